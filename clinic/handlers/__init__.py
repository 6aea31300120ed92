"""HTTP handlers, thin: parse, authenticate, ask the rules, call storage, answer."""
