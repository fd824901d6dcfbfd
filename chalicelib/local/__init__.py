"""The embedded development stack: AWS emulator, resources, SQS pollers, local sandbox."""
