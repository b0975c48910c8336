"""complaintwatch spiders: blog, forum, reviews, reddit, pikabu, vcru (see each module)."""
