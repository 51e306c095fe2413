"""The municipality dashboard page and its CSV export: own municipality only, suppressed
small counts, no personal data anywhere, every view audited."""

from __future__ import annotations

from sqlalchemy import func, select

from aware.audit.models import AuditEntry
from tests.conftest import sign_in
from tests.integration.test_reports import NOW, region, seeded  # noqa: F401

PERIOD = "from=2026-01-01&to=2026-03-31"


def _browser(app, name):
    return sign_in(app.test_client(), name)


def test_reviewer_dashboard_and_csv_show_figures_only(app, session, make_user, seeded):  # noqa: F811
    make_user("municipality", "rev-page", municipality="0344")
    browser = _browser(app, "rev-page")
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    page = browser.get(f"/reports?{PERIOD}")
    assert page.status_code == 200
    assert 'id="chart-victims"' in page.text and 'id="report-data"' in page.text
    assert "&lt;5" in page.text  # small counts suppressed in the tables
    assert "Gemeentelijke evaluatie" in page.text
    export = browser.get(f"/reports/export.csv?municipality=0344&{PERIOD}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "# victims" in export.get_data(as_text=True)
    for text in (page.text, export.get_data(as_text=True)):
        for value in seeded.personal:
            assert value not in text
    after = session.scalar(select(func.count()).select_from(AuditEntry))
    assert after == before + 2  # the page view and the export


def test_other_municipality_and_other_roles_are_refused(app, make_user, seeded):  # noqa: F811
    make_user("municipality", "rev-other", municipality="0344")
    browser = _browser(app, "rev-other")
    assert browser.get(f"/reports?municipality=0363&{PERIOD}").status_code == 403
    assert browser.get(f"/reports/export.csv?municipality=0363&{PERIOD}").status_code == 403
    for role in ("dispatcher", "coordinator"):
        make_user(role, f"{role}-rep")
        other = _browser(app, f"{role}-rep")
        assert other.get("/reports").status_code == 403
        assert other.get(f"/reports/export.csv?municipality=0344&{PERIOD}").status_code == 403


def test_centrumgemeente_reviewer_gets_the_region_comparison(
    app,
    make_user,
    seeded,  # noqa: F811
    region,  # noqa: F811
):
    make_user("municipality", "rev-centre", municipality="0344")
    browser = _browser(app, "rev-centre")
    page = browser.get(f"/reports?municipality=0344&region=1&{PERIOD}")
    assert page.status_code == 200
    assert 'id="t-comparison"' in page.text and 'name="region"' in page.text
    bad = browser.get("/reports?municipality=0344&from=2026-03-01&to=2026-01-01")
    assert bad.status_code == 200 and 'role="alert"' in bad.text
