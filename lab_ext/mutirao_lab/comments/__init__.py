"""Comments: threads on notebook cells and outputs, durable, live, with @mentions.

``model`` holds the pure decisions, ``store`` the SQLite storage, ``roles`` the pluggable room
roles, ``service`` what the handlers share, ``handlers`` the REST and websocket API.
"""
