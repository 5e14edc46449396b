"""Web demo (``streamcolor.demo``): not built yet, see issue 6."""
