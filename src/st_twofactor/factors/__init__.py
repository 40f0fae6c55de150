"""The second factors, each on the one base in :mod:`st_twofactor.factors.base`."""
