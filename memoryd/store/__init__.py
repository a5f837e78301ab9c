"""The only package that writes SQL. Functions take a connection and never commit:
services own the transaction (see memoryd.db.transaction)."""
