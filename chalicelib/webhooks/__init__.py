"""Signed webhook delivery: Standard Webhooks signing, the retry ladder, the SQS-driven sender."""
