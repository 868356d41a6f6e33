"""What differs between the async and the sync client besides the transport: sleeping, locks,
running blocking work, and running many tasks at once. Hand-written once per concurrency model;
``_async/`` imports ``asyncio_backend`` and the generated ``_sync/`` imports ``thread_backend``.
"""
