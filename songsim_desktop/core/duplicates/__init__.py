"""The duplicate finder (issue 13): groups of files holding one recording, and which copy to keep.

sources.py (section vectors with positions: the SectionSource seam) -> candidates.py (close
sections, hnswlib) -> fingerprint.py + finder.py (strict check, union-find) -> report.py (groups,
reasons, keeper, CSV/JSON export).  Read-only towards the music: nothing is deleted or moved.
"""

from songsim_desktop.core.duplicates.finder import MIN_COVERAGE, MIN_MATCHING, duplicates_job, is_same_recording
from songsim_desktop.core.duplicates.report import Copy, DuplicateGroup, DuplicatesReport, PairEvidence
from songsim_desktop.core.duplicates.sources import (
    SECTION_SOURCES, CropSectionSource, SectionSource, Sections, section_source)

__all__ = ["Copy", "CropSectionSource", "DuplicateGroup", "DuplicatesReport", "MIN_COVERAGE", "MIN_MATCHING",
           "PairEvidence", "SECTION_SOURCES", "SectionSource", "Sections", "duplicates_job", "is_same_recording",
           "section_source"]
