"""The HTTP shells: the webhook endpoint, the admin API and the server that listens for both."""
