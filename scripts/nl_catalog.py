"""Dutch texts of the pages (msgids are English). Run after `pybabel extract` to rebuild
aware/translations/nl/LC_MESSAGES/messages.po and .mo; a test fails on any untranslated text."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

NL = {
    "Meetings": "Overleggen",
    "From": "Van",
    "To": "Tot en met",
    "Show": "Tonen",
    "Time": "Tijd",
    "Meeting": "Overleg",
    "urgent": "spoed",
    "region": "regio",
    "No meetings in this period.": "Geen overleggen in deze periode.",
    "Confidentiality": "Vertrouwelijkheid",
    "Urgent": "Spoed",
    "New high-risk cases": "Nieuwe casussen met hoog risico",
    "Applications": "Aanvragen",
    "Re-assessments due": "Herbeoordelingen",
    "Reviews due": "Evaluaties",
    "Extensions due": "Verlengingen",
    "Endings": "Beëindigingen",
    "Handovers": "Overdrachten",
    "Invitation (.ics)": "Uitnodiging (.ics)",
    "Agenda": "Agenda",
    "Not on this agenda yet: %(sections)s": "Nog niet op deze agenda: %(sections)s",
    "deadline": "deadline",
    "Minutes": "Verslag",
    "Minutes recorded.": "Verslag vastgelegd.",
    "Minutes can be recorded once the meeting has started.": (
        "Het verslag kan worden vastgelegd zodra het overleg is begonnen."
    ),
    "Attendance": "Aanwezigheid",
    "Open actions: done, or why not": "Open acties: gedaan, of waarom niet",
    "reason if not done": "reden als niet gedaan",
    "Decisions": "Besluiten",
    "New actions": "Nieuwe acties",
    "Action": "Actie",
    "Owner": "Eigenaar",
    "Notes": "Aantekeningen",
    "Save minutes": "Verslag opslaan",
    "Minutes not saved: %(field)s: %(message)s": (
        "Verslag niet opgeslagen: %(field)s: %(message)s"
    ),
    "Minutes saved.": "Verslag opgeslagen.",
    "still needed": "nog nodig",
    "Applied": "Aangevraagd",
    "Decision": "Besluit",
    "Support": "Ondersteuning",
    "Device connected": "Apparaat aangesloten",
    "Application to connection": "Van aanvraag tot aansluiting",
    "days": "dagen",
    "Term until": "Looptijd tot",
    "Ended": "Beëindigd",
    "Handover": "Overdracht",
    "No application for AWARE yet.": "Nog geen aanvraag voor AWARE.",
    "Cases": "Casussen",
    "Municipality (CBS code)": "Gemeente (CBS-code)",
    "Concern": "Zorgniveau",
    "all": "alle",
    "Filter": "Filteren",
    "Reference": "Referentie",
    "Municipality": "Gemeente",
    "Status": "Status",
    "Re-assessment due": "Herbeoordeling op",
    "Open actions": "Open acties",
    "Devices": "Apparaten",
    "overdue": "te laat",
    "No cases.": "Geen casussen.",
    "Name": "Naam",
    "Contact details": "Contactgegevens",
    "only for the case's own coordinators": "alleen voor de eigen casusregisseurs",
    "Phone": "Telefoon",
    "Address": "Adres",
    "SMS on approach": "Sms bij nadering",
    "on": "aan",
    "off": "uit",
    "Switch off": "Uitzetten",
    "Switch on": "Aanzetten",
    "Description": "Beschrijving",
    "Bans": "Verboden",
    "Map of the ban zones": "Kaart van de verbodsgebieden",
    "ended": "beëindigd",
    "No bans.": "Geen verboden.",
    "Screenings": "Screenings",
    "Date": "Datum",
    "Instrument": "Instrument",
    "By": "Door",
    "No screenings yet.": "Nog geen screenings.",
    "Role": "Rol",
    "Battery": "Batterij",
    "Last seen": "Laatst gezien",
    "Linked": "Gekoppeld",
    "victim": "slachtoffer",
    "perpetrator": "pleger",
    "No devices.": "Geen apparaten.",
    "AWARE allocation": "AWARE-toekenning",
    "None.": "Geen.",
    "Received": "Ontvangen",
    "Type": "Type",
    "No alarms.": "Geen alarmen.",
    "Not changed: %(message)s": "Niet gewijzigd: %(message)s",
    "SMS to the victim switched on.": "Sms aan het slachtoffer aangezet.",
    "SMS to the victim switched off.": "Sms aan het slachtoffer uitgezet.",
    "Escalation chains": "Escalatieketens",
    "An alarm nobody accepts is texted and called about along the chain of its type. The chain "
    "in force is copied onto each alarm when it is raised: a change here applies to alarms "
    "raised from now on.": (
        "Een alarm dat niemand accepteert, wordt per sms en telefoon gemeld langs de keten van "
        "zijn type. De geldende keten wordt bij het ontstaan op het alarm gezet: een wijziging "
        "hier geldt voor alarmen die vanaf nu ontstaan."
    ),
    "own chain, %(by)s": "eigen keten, %(by)s",
    "default": "standaard",
    "never escalates": "escaleert nooit",
    "After (s)": "Na (s)",
    "Call": "Bellen",
    "Numbers (E.164)": "Nummers (E.164)",
    "Then repeat the last step every (s)": "Herhaal daarna de laatste stap elke (s)",
    "at most (times)": "hoogstens (keer)",
    "Save": "Opslaan",
    "Never escalate": "Nooit escaleren",
    "Back to the default": "Terug naar de standaard",
    "%(type)s: back to the default chain.": "%(type)s: terug naar de standaardketen.",
    "%(type)s not saved: %(field)s: %(message)s": (
        "%(type)s niet opgeslagen: %(field)s: %(message)s"
    ),
    "%(type)s: chain saved; alarms raised from now on use it.": (
        "%(type)s: keten opgeslagen; alarmen die vanaf nu ontstaan gebruiken hem."
    ),
    "a number": "een getal",
    "Console": "Console",
    "Accept": "Accepteren",
    "Accepted, being handled": "Geaccepteerd, in behandeling",
    "Active bans": "Actieve verboden",
    "Add note": "Notitie toevoegen",
    "Alarm %(id)s: already handled by %(by)s.": "Alarm %(id)s: al afgehandeld door %(by)s.",
    "Alarms": "Alarmen",
    "Already accepted by %(name)s at %(time)s.": "Al geaccepteerd door %(name)s om %(time)s.",
    "Already resolved by %(name)s.": "Al afgehandeld door %(name)s.",
    "BS 8484 asks 80%% accepted within 10 s and 98.5%% within 40 s": (
        "BS 8484 vraagt 80%% geaccepteerd binnen 10 s en 98,5%% binnen 40 s"
    ),
    "Battery low": "Batterij bijna leeg",
    "Case": "Casus",
    "Choose an outcome first.": "Kies eerst een afloop.",
    "Choose an outcome to resolve the alarm.": "Kies een afloop om het alarm af te handelen.",
    "Click anywhere to allow sound": "Klik ergens om geluid toe te staan",
    "Connected": "Verbonden",
    "Connecting…": "Verbinden…",
    "Connection lost: reconnecting…": "Verbinding verbroken: opnieuw verbinden…",
    "Contact ban violated": "Contactverbod overtreden",
    "Contact ban: approaching": "Contactverbod: nadering",
    "Could not be saved: %(message)s": "Niet opgeslagen: %(message)s",
    "Details": "Details",
    "Device": "Apparaat",
    "Device offline": "Apparaat offline",
    "Dispatch console": "Meldkamerconsole",
    "Emergency button": "Noodknop",
    "False alarm": "Loos alarm",
    "Genuine alarm": "Echt alarm",
    "Language": "Taal",
    "Location ban violated": "Gebiedsverbod overtreden",
    "Map of the alarm position and ban zones": "Kaart met de alarmpositie en verbodsgebieden",
    "NEW ALARM": "NIEUW ALARM",
    "No case linked to this device.": "Geen casus gekoppeld aan dit apparaat.",
    "No open alarms.": "Geen openstaande alarmen.",
    "No position known.": "Geen positie bekend.",
    "Note": "Notitie",
    "Open": "Open",
    "Outcome": "Afloop",
    "Outcome…": "Afloop…",
    "Password": "Wachtwoord",
    "Perpetrator": "Pleger",
    "Position": "Positie",
    "Press A to accept the top alarm": "Druk op A om het bovenste alarm te accepteren",
    "Resolve": "Afhandelen",
    "SMS to victim failed": "Sms aan slachtoffer mislukt",
    "SMS to victim not sent": "Sms aan slachtoffer niet verstuurd",
    "Session expired: sign in again.": "Sessie verlopen: meld u opnieuw aan.",
    "Sign in": "Aanmelden",
    "Sign out": "Afmelden",
    "Sound: off": "Geluid: uit",
    "Sound: on": "Geluid: aan",
    "TEST": "TEST",
    "Tampering": "Sabotage",
    "Technical": "Technisch",
    "Test": "Test",
    "Test alarm": "Testalarm",
    "This shift": "Deze dienst",
    "Timeline": "Tijdlijn",
    "Unknown username or wrong password.": "Onbekende gebruikersnaam of onjuist wachtwoord.",
    "Username": "Gebruikersnaam",
    "Victim": "Slachtoffer",
    "Warning: escalation by SMS and phone is not configured (Twilio). Unaccepted alarms are "
    "only recorded on their timeline.": (
        "Let op: escalatie per sms en telefoon is niet geconfigureerd (Twilio). "
        "Niet-geaccepteerde alarmen worden alleen op de tijdlijn gemeld."
    ),
    "Welcome, %(name)s": "Welkom, %(name)s",
    "Your role: %(role)s.": "Uw rol: %(role)s.",
    "accepted": "geaccepteerd",
    "accepted by %(name)s": "geaccepteerd door %(name)s",
    "accuracy": "nauwkeurigheid",
    "acknowledged": "geaccepteerd",
    "address": "adres",
    "administrator": "beheerder",
    "age": "leeftijd",
    "battery": "batterij",
    "perpetrator tracker": "tracker pleger",
    "last seen": "laatst gezien",
    "case coordinator": "casusregisseur",
    "concern": "zorgniveau",
    "contact ban": "contactverbod",
    "dispatcher": "centralist",
    "distance": "afstand",
    "escalated": "geëscaleerd",
    "escalated by SMS/phone": "geëscaleerd per sms/telefoon",
    "escalates in %(s)s s": "escaleert over %(s)s s",
    "escalation FAILED": "escalatie MISLUKT",
    "escalation failed": "escalatie mislukt",
    "escalation not sent": "escalatie niet verstuurd",
    "high": "hoog",
    "last known position": "laatst bekende positie",
    "late position": "late positie",
    "location ban": "gebiedsverbod",
    "low": "laag",
    "moderate": "matig",
    "municipality": "gemeente",
    "no alarms yet": "nog geen alarmen",
    "note": "notitie",
    "open": "open",
    "phone": "telefoon",
    "position": "positie",
    "priority": "prioriteit",
    "raised": "ontstaan",
    "received": "ontvangen",
    "resolved": "afgehandeld",
    "shown on a console": "getoond op een console",
    "until": "tot",
    "vehicle": "voertuig",
    "victim notified by SMS": "slachtoffer per sms gewaarschuwd",
    "within %(s)s s": "binnen %(s)s s",
}

ROOT = Path(__file__).resolve().parent.parent / "aware" / "translations"


def main() -> None:
    with open(ROOT / "messages.pot", "rb") as f:
        template = read_po(f)
    with open(ROOT / "nl" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="nl")
    catalog.update(template, no_fuzzy_matching=True)
    for message in catalog:
        if message.id and message.id in NL:
            message.string = NL[message.id]
            message.flags.discard("fuzzy")
    catalog.obsolete.clear()
    with open(ROOT / "nl" / "LC_MESSAGES" / "messages.po", "wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, no_location=True)
    with open(ROOT / "nl" / "LC_MESSAGES" / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    missing = [m.id for m in catalog if m.id and not m.string]
    if missing:
        raise SystemExit(f"untranslated: {missing}")


if __name__ == "__main__":
    main()
