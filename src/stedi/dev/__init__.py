"""Developer tools: synthetic STEDI exports at any scale, and the stedi.zip package for Glue."""
