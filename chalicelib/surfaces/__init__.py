"""One blueprint per API surface: parse the wire format, call the engine, render the answer."""
