"""pytest plugin (entry point ``tcia_models``): the ``tcia_server`` fixture."""
