"""Room roles enforced in the server.

``roles`` holds the pure decisions (a request's room role from the hub user's scopes, and what
each role may do), ``authorizer`` the jupyter-server Authorizer, ``ydoc_filter`` the
collaboration websocket that drops read-only users' document updates, and ``resolver`` the
comments role resolver that follows room roles.
"""
