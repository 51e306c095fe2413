"""Flask extensions shared by every app instance (SocketIO is made per app in create_app)."""

from flask_wtf import CSRFProtect

csrf = CSRFProtect()
