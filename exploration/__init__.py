"""Exploration: a map of the collection to look at before knowing what to ask.

The stored text vectors of clips (or of shots, or of whole files) are laid out in two
dimensions (UMAP or t-SNE), grouped into clusters labelled by their most particular words, and
drawn as one offline HTML page in which hovering shows a point's words and keyframe and clicking
plays it at its second.

Dependency direction: ``exploration -> indexing`` (and the chat app's URL helpers when the map
is served at ``/map``); nothing below imports this package. umap-learn, scikit-learn and plotly
are imported inside the functions that use them.
"""
