"""The agency API: the agency role hub's officers send requests and handle received evidence."""
