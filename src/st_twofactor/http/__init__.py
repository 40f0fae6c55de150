"""The HTTP side: the library's routes, the framework helpers, CORS and the request guard."""
