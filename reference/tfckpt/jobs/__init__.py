"""Jobs built on the file formats and their meaning: checkpoint series, rewrites, conversions.

Every job here writes through the bundle layer's writers, so each inherits one
publish order (spec/errors.md): a reader never meets a half-written checkpoint.
"""
