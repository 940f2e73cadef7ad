"""From a raw lead to model-ready beats: filtering, R-peaks, beat cutting."""
