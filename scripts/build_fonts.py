"""Build core/fonts/: the shipped fonts of the pictures (map, share picture), subset to stay small.

Sources (licences beside the output, details in core/fonts/SOURCES.md):

- DejaVu Sans and DejaVu Sans Bold 2.37, from Debian's ``fonts-dejavu-core`` package
  (``apt-get install fonts-dejavu-core``): subset to Latin, Greek, Cyrillic, punctuation,
  currency and arrows, enough for French, English and most European names.
- Noto Emoji (monochrome) 400, from the npm package ``@expo-google-fonts/noto-emoji`` 0.4.7
  (``npm pack @expo-google-fonts/noto-emoji@0.4.7``): every emoji, kept whole.

Needs fontTools at build time only (``.venv/bin/pip install fonttools``)::

    .venv/bin/python scripts/build_fonts.py \\
        --dejavu /usr/share/fonts/truetype/dejavu \\
        --emoji /tmp/package/400Regular/NotoEmoji_400Regular.ttf

The licences are copied beside the fonts: Debian's copyright file of fonts-dejavu-core and the
package's ``LICENSE_FONT`` (SIL Open Font License 1.1).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]

OUTPUT = Path(__file__).resolve().parent.parent / "core" / "fonts"
UNICODES = (
    "U+0020-024F,U+0259,U+02B0-02FF,U+1D00-1DBF,U+0300-036F,U+0370-03FF,U+0400-04FF,"
    "U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2100-215F,U+2190-21FF,U+2212,U+2248,U+2260,"
    "U+2264-2265,U+2713-2714,U+25A0-25FF,U+FB01-FB02,U+FFFD"
)


def subset_font(source: Path, target: Path) -> None:
    """Keep the UNICODES of `source` (with kerning and ligatures) in `target`."""
    options = subset.Options()
    options.layout_features = ["kern", "liga", "locl", "mark", "mkmk"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dejavu", type=Path, required=True, help="folder of DejaVuSans*.ttf")
    parser.add_argument("--emoji", type=Path, required=True, help="NotoEmoji_400Regular.ttf")
    parser.add_argument(
        "--dejavu-licence",
        type=Path,
        default=Path("/usr/share/doc/fonts-dejavu-core/copyright"),
    )
    args = parser.parse_args()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        subset_font(args.dejavu / name, OUTPUT / name)
    shutil.copyfile(args.emoji, OUTPUT / "NotoEmoji-Regular.ttf")
    shutil.copyfile(args.dejavu_licence, OUTPUT / "LICENSE-DejaVu.txt")
    shutil.copyfile(args.emoji.parent.parent / "LICENSE_FONT", OUTPUT / "LICENSE-NotoEmoji.txt")
    for path in sorted(OUTPUT.glob("*.ttf")):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
