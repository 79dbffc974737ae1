"""Interaction: what an editor takes away from the collection.

Phrase montages (every moment a phrase is said, cut on word times and rendered with ffmpeg),
the commonest phrases, exports editors and viewers open (WebVTT/SRT/JSON transcripts, CMX3600
EDL, OTIO, FCP XML, m3u, IIIF Presentation 3) and AI-assisted rough cuts.

Dependency direction: ``interaction -> assistant -> indexing``; nothing below imports this
package. Heavy libraries (opentimelineio, iiif-prezi3, the embedder, the LLM) are imported inside
the functions that need them.
"""
