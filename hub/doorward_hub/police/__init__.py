"""Police footage requests: wire shapes, the group's checks, the agency's and household's sides."""
