"""The admin page for escalation chains: browser session with CSRF, role, validation."""

from __future__ import annotations

from tests.conftest import csrf_of, sign_in


def _sign_in(client, make_user, name, role):
    make_user(role, name)
    sign_in(client, name)


def _chains(client, admin_headers):
    body = client.get("/api/v1/escalation-chains", headers=admin_headers).get_json()
    return {c["alarm_type"]: c for c in body["chains"]}


def test_admin_edits_a_chain_in_the_browser(client, make_user):
    _, raw = make_user("admin", "admin-api")
    headers = {"Authorization": f"Bearer {raw}"}
    _sign_in(client, make_user, "admin-page", "admin")
    page = client.get("/admin/escalation")
    assert page.status_code == 200 and 'id="chain-sos"' in page.text
    assert "Escalatieketens" in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "action": "save",
        "after_s_0": "15",
        "sms_0": "1",
        "to_0": "+31611111111, +31622222222",
        "after_s_1": "45",
        "sms_1": "1",
        "voice_1": "1",
        "to_1": "+31633333333",
        "repeat_every_s": "60",
        "max_repeats": "3",
    }
    done = client.post("/admin/escalation/sos", data=form, follow_redirects=True)
    assert "keten opgeslagen" in done.text
    sos = _chains(client, headers)["sos"]
    assert sos["default"] is False and sos["updated_by"] == "admin-page"
    assert sos["chain"]["steps"] == [
        {"after_s": 15.0, "channels": ["sms"], "to": ["+31611111111", "+31622222222"]},
        {"after_s": 45.0, "channels": ["sms", "voice"], "to": ["+31633333333"]},
    ]
    assert (sos["chain"]["repeat_every_s"], sos["chain"]["max_repeats"]) == (60.0, 3)

    # Invalid input is named and changes nothing.
    bad = dict(form, to_0="0612345678")
    shown = client.post("/admin/escalation/sos", data=bad, follow_redirects=True)
    assert "niet opgeslagen: steps.0.to" in shown.text
    assert _chains(client, headers)["sos"]["chain"] == sos["chain"]
    shown = client.post(
        "/admin/escalation/sos", data=dict(form, after_s_0="soon"), follow_redirects=True
    )
    assert "niet opgeslagen: steps.0.after_s" in shown.text
    assert _chains(client, headers)["sos"]["chain"] == sos["chain"]

    csrf = csrf_of(shown.text)
    client.post("/admin/escalation/test", data={"csrf_token": csrf, "action": "never"})
    assert _chains(client, headers)["test"]["chain"]["steps"] == []
    client.post("/admin/escalation/sos", data={"csrf_token": csrf, "action": "default"})
    assert _chains(client, headers)["sos"]["default"] is True
    # Without CSRF token: refused, nothing changes.
    assert client.post("/admin/escalation/sos", data={"action": "never"}).status_code == 400
    assert _chains(client, headers)["sos"]["default"] is True
    assert client.post("/admin/escalation/nope", data={"csrf_token": csrf}).status_code == 404


def test_only_admins_get_the_page(client, make_user):
    assert client.get("/admin/escalation").status_code == 302  # to the login page
    _sign_in(client, make_user, "disp-admin-page", "dispatcher")
    assert client.get("/admin/escalation").status_code == 403
