"""Motion experts: pure numpy functions from annotated frames to signed attribute values. No IO."""
