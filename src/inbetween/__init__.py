"""inbetween: self-hostable first-and-last-frame video generation.

The server speaks the v2 video-generations API of the hosted model
``google/veo-3.1-first-last-image-to-video``. See README.md.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
