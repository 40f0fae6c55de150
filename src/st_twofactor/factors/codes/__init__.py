"""Codes sent by e-mail (``otp-email``) or SMS (``otp-phone``) through the passwordless recipe."""
