"""Languages of the web pages: Dutch by default, English on request.

The choice is made with `?lang=en` (remembered in a cookie for a year) and never guessed from
the browser: a control room's screens must all speak the language the room agreed on.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel

LANGUAGES = ("nl", "en")
DEFAULT = "nl"
COOKIE = "aware_lang"

babel = Babel()


def select_locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return DEFAULT


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_locale=DEFAULT)

    @app.after_request
    def _remember_language(resp: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
            resp.set_cookie(
                COOKIE,
                asked,
                max_age=365 * 24 * 3600,
                samesite="Lax",
                httponly=True,
                secure=app.config.get("SESSION_COOKIE_SECURE", False),
            )
        return resp
