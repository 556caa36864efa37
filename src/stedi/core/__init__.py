"""The core that ships to AWS Glue in stedi.zip: declared tables and schemas, pure transforms,
quality rules, the raw intake."""
