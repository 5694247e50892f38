"""The group's public transparency pages, served by `doorward-hub group serve`."""
