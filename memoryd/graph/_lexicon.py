"""Small word lists shared by the entity extractor and the community labeller.

Kept deliberately short and offline: no NLP model, no downloads.
"""

from __future__ import annotations

__all__ = ["STOPWORDS", "COMMON_WORDS", "CALENDAR_WORDS", "TLDS", "FILE_EXTENSIONS"]

# Function words: never part of a phrase or a label.
STOPWORDS: frozenset[str] = frozenset(
    """
a about above after again against all almost along already also although always am among an and
another any anyone anything are around as at be became because been before being below between
both but by can cannot could did do does doing done down during each either else enough etc even
ever every few for from further had has have having he her here hers herself him himself his how
however i if in into is it its itself just least less let like may me might mine more most much
must my myself neither never no nor not now of off often on once one only or other others our
ours ourselves out over own per quite rather really same several shall she should since so some
something still such than that the their theirs them themselves then there these they this those
though through thus to too under until up upon us very via was we well were what whatever when
where whether which while who whom whose why will with within without would yet you your yours
yourself yourselves
""".split()
)

# Frequent verbs, adverbs, adjectives and sentence openers: these make a capitalised
# sentence-initial word "not a name" and a lowercase word "not a technical term".
COMMON_WORDS: frozenset[str] = STOPWORDS | frozenset(
    """
able across actually add added adds after afternoon ago agreed allow allowed allows also asked
ask asks back bad be best better big call called calls came can't change changed changes check
checked come comes consider currently day days decided dear didn't different does doesn't don't
each early easy else everyone everything example fast feel felt find finds fine first fix fixed
follow following found get gets getting give given go goes going gone good got great had happy
hard hello help helps hey hi high hope i'm instead it's keep keeps kind know known large last
later latest least left let's likes liked long look looks lot lots love loves low made main make
makes making many maybe mean means meet meeting mostly moved need needed needs new next nice
note notes okay old ones open please prefer preferred prefers pretty probably put ran rather
read ready recently remember run runs said same saw say says see seems seen set should show
shows small so-called soon sorry start started still stop sure take takes tell thanks thank
thing things think thought today told tomorrow tonight took tried try trying turn turned two
three four five six seven eight nine ten uses use used using usually want wanted wants was way
week weeks went what's whenever work worked works year years yes yesterday
""".split()
)

# Day and month names break person names ("Monday Alice" is not a name).
CALENDAR_WORDS: frozenset[str] = frozenset(
    """
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december
""".split()
)

# Bare "example.com" is treated as a url when its last label is one of these.
TLDS: frozenset[str] = frozenset(
    """
com org net io dev ai app co edu gov uk de fr nl eu ch us ca au info biz me tech cloud sh
""".split()
)

# A bare "name.ext" is a path when ext is one of these.
FILE_EXTENSIONS: frozenset[str] = frozenset(
    """
py pyi ipynb js mjs cjs ts tsx jsx json toml yaml yml ini cfg conf md rst txt csv tsv sql db
sqlite html htm css scss rs go java kt c h cc cpp hpp cs rb php sh bash zsh ps1 bat lock log
xml svg png jpg jpeg gif pdf env dockerfile gradle swift scala lua r jl pt bin onnx safetensors
parquet gz zip tar whl
""".split()
)
