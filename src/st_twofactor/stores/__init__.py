"""Where each user's 2FA state lives: one process (in memory, the user-metadata recipe) or
many (:mod:`st_twofactor.stores.redis`, :mod:`st_twofactor.stores.sql`)."""
