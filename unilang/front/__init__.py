"""The front end: reading sources, tokens, the parsers and the syntax tree."""
