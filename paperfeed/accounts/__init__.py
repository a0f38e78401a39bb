"""Accounts: members, sign-in, sessions, tokens, roles."""
