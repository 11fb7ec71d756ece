"""Where device certificates come from: the site CA, a command-line CA, EST or ACME."""
