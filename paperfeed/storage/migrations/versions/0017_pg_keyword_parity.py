"""PostgreSQL: keyword index words split, folded and stemmed as SQLite's FTS5 does them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

PostgreSQL's default text-search parser makes special tokens of hyphenated words ("GPT-4" ->
'gpt', '-4'), emails, URLs, versions and tags, keeps accents, drops English stopwords (so "q&a"
or "BERT's" searched for 'q' or 'bert' alone) and its `english` Snowball stemmer differs from
Porter. SQLite's FTS5 tokenizer (`porter unicode61 remove_diacritics 2`) splits on every
character that is not a letter or digit, folds case and accents, keeps every word and stems
with Porter. So the two engines matched different papers for the same words.

This migration makes PostgreSQL tokenise like FTS5:
- `paperfeed_fts_text(text)`: the text with FTS5's accent folds applied (`translate`, only when
  it holds one), lower-cased, and every character unicode61 separates on made a space (a
  regular expression over its code point ranges, read off SQLite's tokenizer by
  `scripts/fts5-char-classes`), so the parser then sees plain words only; and a two-character
  word ending in "s" or "y" gets a "0" appended, because PostgreSQL's Porter strips "as" to "a"
  where FTS5 leaves words under three characters alone.
- the `paperfeed_porter` dictionary (Snowball `porter`, no stopword list) and the `paperfeed`
  configuration mapping every token type to it.
- `paperfeed_words_query(text)`: the phrase tsquery of a text (a word such as "gpt-4" is the
  phrase 'gpt' <-> '4', as FTS5 reads a quoted string), and `paperfeed_field_query(text, w)`
  the same with every lexeme limited to weight `w` (an author is looked for in the authors
  only, as FTS5's column filter does; `*A` gives title prefixes for suggestions).
- `search_vector` and `search_length` become plain columns kept by a trigger
  (`paperfeed_search_columns`) instead of generated ones: PostgreSQL 16 cannot change a
  generated column's expression without rewriting the table under an exclusive lock.

The switch is built beside the live columns so the service keeps answering: new columns
(`*_next`), a trigger filling them for every insert or edit from now on, a backfill in batches
of BATCH papers in key order (each its own transaction: an interrupted migration resumes where
it stopped, a finished batch is never redone), a GIN index built CONCURRENTLY, then one short
transaction swaps the columns (drop old, rename new). Running it again after a crash is safe at
every step. At 80k papers it took 7.5 minutes on a loaded machine, about 1 ms of
PostgreSQL CPU per paper (bench/README.md); run `VACUUM papers` after it (or let autovacuum).
Nothing to do on SQLite.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

log = logging.getLogger("paperfeed.migrate")
BATCH = 2000

# --- read off SQLite's FTS5 `unicode61 remove_diacritics 2` (scripts/fts5-char-classes) --------
SEPARATORS = [
    (0x1, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0xa9), (0xab, 0xb1), (0xb4, 0xb4), (0xb6,
    0xb8), (0xbb, 0xbb), (0xbf, 0xbf), (0xd7, 0xd7), (0xf7, 0xf7), (0x2c2, 0x2c5), (0x2d2, 0x2df),
    (0x2e5, 0x2eb), (0x2ed, 0x2ed), (0x2ef, 0x2ff), (0x305, 0x305), (0x30d, 0x30e), (0x310, 0x310),
    (0x312, 0x31a), (0x31c, 0x322), (0x329, 0x32c), (0x32f, 0x32f), (0x332, 0x36f), (0x375, 0x375),
    (0x37e, 0x37e), (0x384, 0x385), (0x387, 0x387), (0x3f6, 0x3f6), (0x482, 0x489), (0x55a, 0x55f),
    (0x589, 0x58a), (0x58f, 0x58f), (0x591, 0x5c7), (0x5f3, 0x5f4), (0x600, 0x604), (0x606, 0x61b),
    (0x61e, 0x61f), (0x64b, 0x65f), (0x66a, 0x66d), (0x670, 0x670), (0x6d4, 0x6d4), (0x6d6, 0x6e4),
    (0x6e7, 0x6ed), (0x6fd, 0x6fe), (0x700, 0x70d), (0x70f, 0x70f), (0x711, 0x711), (0x730, 0x74a),
    (0x7a6, 0x7b0), (0x7eb, 0x7f3), (0x7f6, 0x7f9), (0x816, 0x819), (0x81b, 0x823), (0x825, 0x827),
    (0x829, 0x82d), (0x830, 0x83e), (0x859, 0x85b), (0x85e, 0x85e), (0x8e4, 0x8fe), (0x900, 0x903),
    (0x93a, 0x93c), (0x93e, 0x94f), (0x951, 0x957), (0x962, 0x965), (0x970, 0x970), (0x981, 0x983),
    (0x9bc, 0x9bc), (0x9be, 0x9c4), (0x9c7, 0x9c8), (0x9cb, 0x9cd), (0x9d7, 0x9d7), (0x9e2, 0x9e3),
    (0x9f2, 0x9f3), (0x9fa, 0x9fb), (0xa01, 0xa03), (0xa3c, 0xa3c), (0xa3e, 0xa42), (0xa47, 0xa48),
    (0xa4b, 0xa4d), (0xa51, 0xa51), (0xa70, 0xa71), (0xa75, 0xa75), (0xa81, 0xa83), (0xabc, 0xabc),
    (0xabe, 0xac5), (0xac7, 0xac9), (0xacb, 0xacd), (0xae2, 0xae3), (0xaf0, 0xaf1), (0xb01, 0xb03),
    (0xb3c, 0xb3c), (0xb3e, 0xb44), (0xb47, 0xb48), (0xb4b, 0xb4d), (0xb56, 0xb57), (0xb62, 0xb63),
    (0xb70, 0xb70), (0xb82, 0xb82), (0xbbe, 0xbc2), (0xbc6, 0xbc8), (0xbca, 0xbcd), (0xbd7, 0xbd7),
    (0xbf3, 0xbfa), (0xc01, 0xc03), (0xc3e, 0xc44), (0xc46, 0xc48), (0xc4a, 0xc4d), (0xc55, 0xc56),
    (0xc62, 0xc63), (0xc7f, 0xc7f), (0xc82, 0xc83), (0xcbc, 0xcbc), (0xcbe, 0xcc4), (0xcc6, 0xcc8),
    (0xcca, 0xccd), (0xcd5, 0xcd6), (0xce2, 0xce3), (0xd02, 0xd03), (0xd3e, 0xd44), (0xd46, 0xd48),
    (0xd4a, 0xd4d), (0xd57, 0xd57), (0xd62, 0xd63), (0xd79, 0xd79), (0xd82, 0xd83), (0xdca, 0xdca),
    (0xdcf, 0xdd4), (0xdd6, 0xdd6), (0xdd8, 0xddf), (0xdf2, 0xdf4), (0xe31, 0xe31), (0xe34, 0xe3a),
    (0xe3f, 0xe3f), (0xe47, 0xe4f), (0xe5a, 0xe5b), (0xeb1, 0xeb1), (0xeb4, 0xeb9), (0xebb, 0xebc),
    (0xec8, 0xecd), (0xf01, 0xf1f), (0xf34, 0xf3f), (0xf71, 0xf87), (0xf8d, 0xf97), (0xf99, 0xfbc),
    (0xfbe, 0xfcc), (0xfce, 0xfda), (0x102b, 0x103e), (0x104a, 0x104f), (0x1056, 0x1059), (0x105e,
    0x1060), (0x1062, 0x1064), (0x1067, 0x106d), (0x1071, 0x1074), (0x1082, 0x108d), (0x108f,
    0x108f), (0x109a, 0x109f), (0x10fb, 0x10fb), (0x135d, 0x1368), (0x1390, 0x1399), (0x1400,
    0x1400), (0x166d, 0x166e), (0x1680, 0x1680), (0x169b, 0x169c), (0x16eb, 0x16ed), (0x1712,
    0x1714), (0x1732, 0x1736), (0x1752, 0x1753), (0x1772, 0x1773), (0x17b4, 0x17d6), (0x17d8,
    0x17db), (0x17dd, 0x17dd), (0x1800, 0x180e), (0x18a9, 0x18a9), (0x1920, 0x192b), (0x1930,
    0x193b), (0x1940, 0x1940), (0x1944, 0x1945), (0x19b0, 0x19c0), (0x19c8, 0x19c9), (0x19de,
    0x19ff), (0x1a17, 0x1a1b), (0x1a1e, 0x1a1f), (0x1a55, 0x1a5e), (0x1a60, 0x1a7c), (0x1a7f,
    0x1a7f), (0x1aa0, 0x1aa6), (0x1aa8, 0x1aad), (0x1b00, 0x1b04), (0x1b34, 0x1b44), (0x1b5a,
    0x1b7c), (0x1b80, 0x1b82), (0x1ba1, 0x1bad), (0x1be6, 0x1bf3), (0x1bfc, 0x1bff), (0x1c24,
    0x1c37), (0x1c3b, 0x1c3f), (0x1c7e, 0x1c7f), (0x1cc0, 0x1cc7), (0x1cd0, 0x1ce8), (0x1ced,
    0x1ced), (0x1cf2, 0x1cf4), (0x1dc0, 0x1de6), (0x1dfc, 0x1dff), (0x1fbd, 0x1fbd), (0x1fbf,
    0x1fc1), (0x1fcd, 0x1fcf), (0x1fdd, 0x1fdf), (0x1fed, 0x1fef), (0x1ffd, 0x1ffe), (0x2000,
    0x2064), (0x206a, 0x206f), (0x207a, 0x207e), (0x208a, 0x208e), (0x20a0, 0x20b9), (0x20d0,
    0x20f0), (0x2100, 0x2101), (0x2103, 0x2106), (0x2108, 0x2109), (0x2114, 0x2114), (0x2116,
    0x2118), (0x211e, 0x2123), (0x2125, 0x2125), (0x2127, 0x2127), (0x2129, 0x2129), (0x212e,
    0x212e), (0x213a, 0x213b), (0x2140, 0x2144), (0x214a, 0x214d), (0x214f, 0x214f), (0x2190,
    0x23f3), (0x2400, 0x2426), (0x2440, 0x244a), (0x249c, 0x24e9), (0x2500, 0x26ff), (0x2701,
    0x2775), (0x2794, 0x2b4c), (0x2b50, 0x2b59), (0x2ce5, 0x2cea), (0x2cef, 0x2cf1), (0x2cf9,
    0x2cfc), (0x2cfe, 0x2cff), (0x2d70, 0x2d70), (0x2d7f, 0x2d7f), (0x2de0, 0x2e2e), (0x2e30,
    0x2e3b), (0x2e80, 0x2e99), (0x2e9b, 0x2ef3), (0x2f00, 0x2fd5), (0x2ff0, 0x2ffb), (0x3000,
    0x3004), (0x3008, 0x3020), (0x302a, 0x3030), (0x3036, 0x3037), (0x303d, 0x303f), (0x3099,
    0x309c), (0x30a0, 0x30a0), (0x30fb, 0x30fb), (0x3190, 0x3191), (0x3196, 0x319f), (0x31c0,
    0x31e3), (0x3200, 0x321e), (0x322a, 0x3247), (0x3250, 0x3250), (0x3260, 0x327f), (0x328a,
    0x32b0), (0x32c0, 0x32fe), (0x3300, 0x33ff), (0x4dc0, 0x4dff), (0xa490, 0xa4c6), (0xa4fe,
    0xa4ff), (0xa60d, 0xa60f), (0xa66f, 0xa67e), (0xa69f, 0xa69f), (0xa6f0, 0xa6f7), (0xa700,
    0xa716), (0xa720, 0xa721), (0xa789, 0xa78a), (0xa802, 0xa802), (0xa806, 0xa806), (0xa80b,
    0xa80b), (0xa823, 0xa82b), (0xa836, 0xa839), (0xa874, 0xa877), (0xa880, 0xa881), (0xa8b4,
    0xa8c4), (0xa8ce, 0xa8cf), (0xa8e0, 0xa8f1), (0xa8f8, 0xa8fa), (0xa926, 0xa92f), (0xa947,
    0xa953), (0xa95f, 0xa95f), (0xa980, 0xa983), (0xa9b3, 0xa9cd), (0xa9de, 0xa9df), (0xaa29,
    0xaa36), (0xaa43, 0xaa43), (0xaa4c, 0xaa4d), (0xaa5c, 0xaa5f), (0xaa77, 0xaa79), (0xaa7b,
    0xaa7b), (0xaab0, 0xaab0), (0xaab2, 0xaab4), (0xaab7, 0xaab8), (0xaabe, 0xaabf), (0xaac1,
    0xaac1), (0xaade, 0xaadf), (0xaaeb, 0xaaf1), (0xaaf5, 0xaaf6), (0xabe3, 0xabed), (0xfb1e,
    0xfb1e), (0xfb29, 0xfb29), (0xfbb2, 0xfbc1), (0xfd3e, 0xfd3f), (0xfdfc, 0xfdfd), (0xfe00,
    0xfe19), (0xfe20, 0xfe26), (0xfe30, 0xfe52), (0xfe54, 0xfe66), (0xfe68, 0xfe6b), (0xfeff,
    0xfeff), (0xff01, 0xff0f), (0xff1a, 0xff20), (0xff3b, 0xff40), (0xff5b, 0xff65), (0xffe0,
    0xffe6), (0xffe8, 0xffee), (0xfff9, 0xffff), (0x10100, 0x10102), (0x10137, 0x1013f), (0x10179,
    0x10189), (0x10190, 0x1019b), (0x101d0, 0x101fd), (0x1039f, 0x1039f), (0x103d0, 0x103d0),
    (0x10857, 0x10857), (0x1091f, 0x1091f), (0x1093f, 0x1093f), (0x10a01, 0x10a03), (0x10a05,
    0x10a06), (0x10a0c, 0x10a0f), (0x10a38, 0x10a3a), (0x10a3f, 0x10a3f), (0x10a50, 0x10a58),
    (0x10a7f, 0x10a7f), (0x10b39, 0x10b3f), (0x11000, 0x11002), (0x11038, 0x1104d), (0x11080,
    0x11082), (0x110b0, 0x110c1), (0x11100, 0x11102), (0x11127, 0x11134), (0x11140, 0x11143),
    (0x11180, 0x11182), (0x111b3, 0x111c0), (0x111c5, 0x111c8), (0x116ab, 0x116b7), (0x12470,
    0x12473), (0x16f51, 0x16f7e), (0x16f8f, 0x16f92), (0x1d000, 0x1d0f5), (0x1d100, 0x1d126),
    (0x1d129, 0x1d1dd), (0x1d200, 0x1d245), (0x1d300, 0x1d356), (0x1d6c1, 0x1d6c1), (0x1d6db,
    0x1d6db), (0x1d6fb, 0x1d6fb), (0x1d715, 0x1d715), (0x1d735, 0x1d735), (0x1d74f, 0x1d74f),
    (0x1d76f, 0x1d76f), (0x1d789, 0x1d789), (0x1d7a9, 0x1d7a9), (0x1d7c3, 0x1d7c3), (0x1eef0,
    0x1eef1), (0x1f000, 0x1f02b), (0x1f030, 0x1f093), (0x1f0a0, 0x1f0ae), (0x1f0b1, 0x1f0be),
    (0x1f0c1, 0x1f0cf), (0x1f0d1, 0x1f0df), (0x1f110, 0x1f12e), (0x1f130, 0x1f16b), (0x1f170,
    0x1f19a), (0x1f1e6, 0x1f202), (0x1f210, 0x1f23a), (0x1f240, 0x1f248), (0x1f250, 0x1f251),
    (0x1f300, 0x1f320), (0x1f330, 0x1f335), (0x1f337, 0x1f37c), (0x1f380, 0x1f393), (0x1f3a0,
    0x1f3c4), (0x1f3c6, 0x1f3ca), (0x1f3e0, 0x1f3f0), (0x1f400, 0x1f43e), (0x1f440, 0x1f440),
    (0x1f442, 0x1f4f7), (0x1f4f9, 0x1f4fc), (0x1f500, 0x1f53d), (0x1f540, 0x1f543), (0x1f550,
    0x1f567), (0x1f5fb, 0x1f640), (0x1f645, 0x1f64f), (0x1f680, 0x1f6c5), (0x1f700, 0x1f773),
    (0xe0001, 0xe0001), (0xe0020, 0xe007f), (0xe0100, 0xe01ef),
]
FOLD_FROM = (
    "\u00b5\u00c0\u00c1\u00c2\u00c3\u00c4\u00c5\u00c7\u00c8\u00c9\u00ca\u00cb\u00cc\u00cd\u00ce"
    "\u00cf\u00d1\u00d2\u00d3\u00d4\u00d5\u00d6\u00d9\u00da\u00db\u00dc\u00dd\u00e0\u00e1\u00e2"
    "\u00e3\u00e4\u00e5\u00e7\u00e8\u00e9\u00ea\u00eb\u00ec\u00ed\u00ee\u00ef\u00f1\u00f2\u00f3"
    "\u00f4\u00f5\u00f6\u00f9\u00fa\u00fb\u00fc\u00fd\u00ff\u0100\u0101\u0102\u0103\u0104\u0105"
    "\u0106\u0107\u0108\u0109\u010a\u010b\u010c\u010d\u010e\u010f\u0112\u0113\u0114\u0115\u0116"
    "\u0117\u0118\u0119\u011a\u011b\u011c\u011d\u011e\u011f\u0120\u0121\u0122\u0123\u0124\u0125"
    "\u0128\u0129\u012a\u012b\u012c\u012d\u012e\u012f\u0130\u0134\u0135\u0136\u0137\u0139\u013a"
    "\u013b\u013c\u013d\u013e\u0143\u0144\u0145\u0146\u0147\u0148\u014c\u014d\u014e\u014f\u0150"
    "\u0151\u0154\u0155\u0156\u0157\u0158\u0159\u015a\u015b\u015c\u015d\u015e\u015f\u0160\u0161"
    "\u0162\u0163\u0164\u0165\u0168\u0169\u016a\u016b\u016c\u016d\u016e\u016f\u0170\u0171\u0172"
    "\u0173\u0174\u0175\u0176\u0177\u0178\u0179\u017a\u017b\u017c\u017d\u017e\u017f\u01a0\u01a1"
    "\u01af\u01b0\u01cd\u01ce\u01cf\u01d0\u01d1\u01d2\u01d3\u01d4\u01d5\u01d6\u01d7\u01d8\u01d9"
    "\u01da\u01db\u01dc\u01de\u01df\u01e6\u01e7\u01e8\u01e9\u01ea\u01eb\u01ec\u01ed\u01f0\u01f4"
    "\u01f5\u01f8\u01f9\u01fa\u01fb\u0200\u0201\u0202\u0203\u0204\u0205\u0206\u0207\u0208\u0209"
    "\u020a\u020b\u020c\u020d\u020e\u020f\u0210\u0211\u0212\u0213\u0214\u0215\u0216\u0217\u0218"
    "\u0219\u021a\u021b\u021e\u021f\u0226\u0227\u0228\u0229\u022a\u022b\u022c\u022d\u022e\u022f"
    "\u0230\u0231\u0232\u0233\u03c2\u03d0\u03d1\u03d5\u03d6\u03f0\u03f1\u03f5\u1e00\u1e01\u1e02"
    "\u1e03\u1e04\u1e05\u1e06\u1e07\u1e08\u1e09\u1e0a\u1e0b\u1e0c\u1e0d\u1e0e\u1e0f\u1e10\u1e11"
    "\u1e12\u1e13\u1e14\u1e15\u1e16\u1e17\u1e18\u1e19\u1e1a\u1e1b\u1e1c\u1e1d\u1e1e\u1e1f\u1e20"
    "\u1e21\u1e22\u1e23\u1e24\u1e25\u1e26\u1e27\u1e28\u1e29\u1e2a\u1e2b\u1e2c\u1e2d\u1e2e\u1e2f"
    "\u1e30\u1e31\u1e32\u1e33\u1e34\u1e35\u1e36\u1e37\u1e38\u1e39\u1e3a\u1e3b\u1e3c\u1e3d\u1e3e"
    "\u1e3f\u1e40\u1e41\u1e42\u1e43\u1e44\u1e45\u1e46\u1e47\u1e48\u1e49\u1e4a\u1e4b\u1e4c\u1e4d"
    "\u1e4e\u1e4f\u1e50\u1e51\u1e52\u1e53\u1e54\u1e55\u1e56\u1e57\u1e58\u1e59\u1e5a\u1e5b\u1e5c"
    "\u1e5d\u1e5e\u1e5f\u1e60\u1e61\u1e62\u1e63\u1e64\u1e65\u1e66\u1e67\u1e68\u1e69\u1e6a\u1e6b"
    "\u1e6c\u1e6d\u1e6e\u1e6f\u1e70\u1e71\u1e72\u1e73\u1e74\u1e75\u1e76\u1e77\u1e78\u1e79\u1e7a"
    "\u1e7b\u1e7c\u1e7d\u1e7e\u1e7f\u1e80\u1e81\u1e82\u1e83\u1e84\u1e85\u1e86\u1e87\u1e88\u1e89"
    "\u1e8a\u1e8b\u1e8c\u1e8d\u1e8e\u1e8f\u1e90\u1e91\u1e92\u1e93\u1e94\u1e95\u1e96\u1e97\u1e98"
    "\u1e99\u1e9b\u1ea0\u1ea1\u1ea2\u1ea3\u1ea4\u1ea5\u1ea6\u1ea7\u1ea8\u1ea9\u1eaa\u1eab\u1eac"
    "\u1ead\u1eae\u1eaf\u1eb0\u1eb1\u1eb2\u1eb3\u1eb4\u1eb5\u1eb6\u1eb7\u1eb8\u1eb9\u1eba\u1ebb"
    "\u1ebc\u1ebd\u1ebe\u1ebf\u1ec0\u1ec1\u1ec2\u1ec3\u1ec4\u1ec5\u1ec6\u1ec7\u1ec8\u1ec9\u1eca"
    "\u1ecb\u1ecc\u1ecd\u1ece\u1ecf\u1ed0\u1ed1\u1ed2\u1ed3\u1ed4\u1ed5\u1ed6\u1ed7\u1ed8\u1ed9"
    "\u1eda\u1edb\u1edc\u1edd\u1ede\u1edf\u1ee0\u1ee1\u1ee2\u1ee3\u1ee4\u1ee5\u1ee6\u1ee7\u1ee8"
    "\u1ee9\u1eea\u1eeb\u1eec\u1eed\u1eee\u1eef\u1ef0\u1ef1\u1ef2\u1ef3\u1ef4\u1ef5\u1ef6\u1ef7"
    "\u1ef8\u1ef9\u1fbe\u212b"
)
FOLD_TO = (
    "\u03bcaaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeeggggg"
    "ggghhiiiiiiiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzsoouuaaiioouu"
    "uuuuuuuuaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy\u03c3\u03b2\u03b8"
    "\u03c6\u03c0\u03ba\u03c1\u03b5aabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllll"
    "llmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzz"
    "htwysaaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyy"
    "yyyyy\u03b9a"
)
REMOVED = (
    "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030f\u0311\u031b"
    "\u0323\u0324\u0325\u0326\u0327\u0328\u032d\u032e\u0330\u0331"
)


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _bracket(ranges: list[tuple[int, int]]) -> str:
    return "[" + "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}"
                         for a, b in ranges) + "]"


FOLDED = FOLD_FROM + REMOVED  # translate() drops the characters past FOLD_TO's end
TEXT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION paperfeed_fts_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT regexp_replace(
  regexp_replace(
    lower(CASE WHEN t ~ '[{FOLDED}]' THEN translate(t, '{FOLDED}', '{FOLD_TO}') ELSE t END),
    '{_bracket(SEPARATORS)}+', ' ', 'g'),
  '(^| )([^ ][sy])(?= |$)', '\\1\\20', 'g')
$fn$
"""

DICTIONARY = """
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'paperfeed_porter'
                 AND dictnamespace = current_schema()::regnamespace) THEN
    CREATE TEXT SEARCH DICTIONARY paperfeed_porter (TEMPLATE = snowball, LANGUAGE = porter);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'paperfeed'
                 AND cfgnamespace = current_schema()::regnamespace) THEN
    CREATE TEXT SEARCH CONFIGURATION paperfeed (COPY = simple);
    ALTER TEXT SEARCH CONFIGURATION paperfeed ALTER MAPPING REPLACE simple WITH paperfeed_porter;
  END IF;
END $do$
"""

QUERY_FUNCTIONS = [
    "CREATE OR REPLACE FUNCTION paperfeed_words_query(t text) RETURNS tsquery "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
    "$fn$ SELECT phraseto_tsquery('paperfeed', paperfeed_fts_text(t)) $fn$",
    # the lexemes of a tsquery's text form are quoted ('x'); after paperfeed_fts_text none
    # holds a quote or a backslash
    "CREATE OR REPLACE FUNCTION paperfeed_field_query(t text, w text) RETURNS tsquery "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
    "$fn$ SELECT CAST(regexp_replace(CAST(paperfeed_words_query(t) AS text), "
    "'''([^'']*)''', '''\\1'':' || w, 'g') AS tsquery) $fn$",
    # the authors' words unstemmed, as '~word' lexemes without positions (no phrase, count or
    # length sees them): what name suggestions match a typed prefix against ("turi" is not a
    # prefix of Porter's "ture" for "Turing")
    "CREATE OR REPLACE FUNCTION paperfeed_name_words(t text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
    "$fn$ SELECT array_to_tsvector(ARRAY(SELECT DISTINCT '~' || w FROM "
    "regexp_split_to_table(btrim(paperfeed_fts_text(t)), ' ') AS w WHERE w <> '')) $fn$",
]


def _columns_function(vector: str, length: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION paperfeed_search_columns() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE t tsvector; a tsvector; b tsvector;
BEGIN
  t := to_tsvector('paperfeed', paperfeed_fts_text(coalesce(NEW.title, '')));
  a := to_tsvector('paperfeed', paperfeed_fts_text(coalesce(NEW.authors_text, '')));
  b := to_tsvector('paperfeed', paperfeed_fts_text(coalesce(NEW.abstract, '')));
  NEW.{vector} := setweight(t, 'A') || setweight(a, 'B')
    || paperfeed_name_words(coalesce(NEW.authors_text, '')) || setweight(b, 'C');
  NEW.{length} := paperfeed_tsvector_words(t) + paperfeed_tsvector_words(a)
    + paperfeed_tsvector_words(b);
  RETURN NEW;
END $fn$
"""


TRIGGER = [
    "DROP TRIGGER IF EXISTS papers_search_columns ON papers",
    "CREATE TRIGGER papers_search_columns BEFORE INSERT OR UPDATE OF title, "
    "authors_text, abstract ON papers FOR EACH ROW EXECUTE FUNCTION paperfeed_search_columns()",
]

# one batch of the backfill: the papers of `ids` not yet filled
FILL = """
UPDATE papers AS p SET search_vector_next = setweight(x.t, 'A') || setweight(x.a, 'B')
    || paperfeed_name_words(x.n) || setweight(x.b, 'C'),
  search_length_next = paperfeed_tsvector_words(x.t) + paperfeed_tsvector_words(x.a)
    + paperfeed_tsvector_words(x.b)
FROM (SELECT id, to_tsvector('paperfeed', paperfeed_fts_text(coalesce(title, ''))) AS t,
        to_tsvector('paperfeed', paperfeed_fts_text(coalesce(authors_text, ''))) AS a,
        to_tsvector('paperfeed', paperfeed_fts_text(coalesce(abstract, ''))) AS b,
        coalesce(authors_text, '') AS n
      FROM papers WHERE {where}) AS x
WHERE p.id = x.id AND p.search_vector_next IS NULL
"""

OLD_VECTOR = (
    "ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(authors_text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(abstract, '')), 'C')) STORED"
)
OLD_LENGTH = (
    "ALTER TABLE papers ADD COLUMN search_length integer GENERATED ALWAYS AS ("
    "paperfeed_tsvector_words(to_tsvector('english', coalesce(title, ''))) + "
    "paperfeed_tsvector_words(to_tsvector('simple', coalesce(authors_text, ''))) + "
    "paperfeed_tsvector_words(to_tsvector('english', coalesce(abstract, '')))) STORED"
)


def _swapped(bind) -> bool:  # type: ignore[no-untyped-def]
    """True once `search_vector` is the trigger-kept column (a crash after the swap)."""
    generated = bind.execute(text(
        "SELECT is_generated FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'papers' AND column_name = 'search_vector'"
    )).scalar_one_or_none()
    return generated == "NEVER"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(TEXT_FUNCTION)
    op.execute(DICTIONARY)
    for statement in QUERY_FUNCTIONS:
        op.execute(statement)
    if _swapped(bind):
        op.execute(_columns_function("search_vector", "search_length"))
        for statement in TRIGGER:
            op.execute(statement)
        return
    op.execute("ALTER TABLE papers ADD COLUMN IF NOT EXISTS search_vector_next tsvector")
    op.execute("ALTER TABLE papers ADD COLUMN IF NOT EXISTS search_length_next integer")
    op.execute(_columns_function("search_vector_next", "search_length_next"))
    for statement in TRIGGER:
        op.execute(statement)
    with op.get_context().autocommit_block():
        _backfill(bind)
        invalid = bind.execute(text(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_papers_search_vector_next'")).scalar_one_or_none()
        if invalid:  # an interrupted concurrent build leaves an invalid index behind
            bind.execute(text("DROP INDEX CONCURRENTLY ix_papers_search_vector_next"))
        bind.execute(text("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_papers_search_vector_next "
                          "ON papers USING gin (search_vector_next)"))
    # the swap: one short transaction (the papers a batch missed are none, or a handful)
    op.execute(FILL.format(where="search_vector_next IS NULL"))
    op.execute("ALTER TABLE papers DROP COLUMN search_vector, DROP COLUMN search_length")
    op.execute("ALTER TABLE papers RENAME COLUMN search_vector_next TO search_vector")
    op.execute("ALTER TABLE papers RENAME COLUMN search_length_next TO search_length")
    op.execute("ALTER INDEX ix_papers_search_vector_next RENAME TO ix_papers_search_vector")
    op.execute(_columns_function("search_vector", "search_length"))


def _backfill(bind) -> None:  # type: ignore[no-untyped-def]
    """Fill the new columns BATCH papers at a time in key order (autocommit: each batch is
    its own transaction, so the rows it touches are locked for one batch only)."""
    last, done = "", 0
    total = bind.execute(text("SELECT count(*) FROM papers")).scalar_one()
    while True:
        ids = bind.execute(text("SELECT id FROM papers WHERE id > :last ORDER BY id LIMIT :n"),
                           {"last": last, "n": BATCH}).scalars().all()
        if not ids:
            break
        bind.execute(text(FILL.format(where="id = ANY(:ids)")), {"ids": list(ids)})
        last, done = ids[-1], done + len(ids)
        if done % (BATCH * 10) == 0:
            log.info("migrate 0017: keyword index %d of %d papers", done, total)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS papers_search_columns ON papers")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_search_columns()")
    op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_vector_next, "
               "DROP COLUMN IF EXISTS search_length_next, DROP COLUMN IF EXISTS search_vector, "
               "DROP COLUMN IF EXISTS search_length")
    op.execute(OLD_VECTOR)
    op.execute(OLD_LENGTH)
    op.execute("CREATE INDEX ix_papers_search_vector ON papers USING gin (search_vector)")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_field_query(text, text)")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_words_query(text)")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_name_words(text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS paperfeed")
    op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS paperfeed_porter")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_fts_text(text)")
