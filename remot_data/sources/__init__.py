"""Source readers: one module per on-disk format, each turning its files into ``Clip`` records."""
