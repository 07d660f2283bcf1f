"""Code that example jobs run on the sites (copied into each job's custom folder), not part of the library."""
