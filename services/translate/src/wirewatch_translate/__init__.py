"""wirewatch translate service: stories into renditions with Argos Translate packages, offline and batched."""
