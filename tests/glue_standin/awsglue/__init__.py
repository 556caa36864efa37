"""A stand-in for the awsglue package of AWS Glue, for running generated job scripts in tests.

Only what the scripts of `stedi aws deploy` use: awsglue.utils.getResolvedOptions,
awsglue.context.GlueContext (wrapping the session `GlueContext.session` names) and
awsglue.job.Job (init and commit record their calls). tests/test_deploy.py puts this folder
first on sys.path while it runs the scripts.
"""
