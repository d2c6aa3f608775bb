"""What every layer uses: the error types, atomic files, progress reporting and the
allow-list that ``_target_`` names resolve through. Imports nothing else of ipguard."""
