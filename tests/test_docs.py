"""The README stays short and every relative link of the docs leads somewhere (issue 28).

Links are checked the way GitHub renders them: a path relative to the page's own folder,
and an anchor made from a heading of the target page (lower case, punctuation dropped,
spaces to hyphens, `-1`, `-2` … for repeats). Links inside code are not links.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted([README, ROOT / "notes.md", *(ROOT / "docs").rglob("*.md")])
README_LIMIT = 12_000

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def _prose(text: str) -> str:
    """The text without its code blocks and code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set(HTML_ANCHOR.findall(text))
    for _, heading in HEADING.findall(text):
        slug = github_slug(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto:


def test_the_slugs_are_githubs():
    assert github_slug("Pinned versions: `uv.lock`") == "pinned-versions-uvlock"
    assert github_slug("Glue's own Iceberg") == "glues-own-iceberg"
    assert github_slug('What "changed" means for a step') == "what-changed-means-for-a-step"
    assert github_slug("The user who deploys (`stedi aws deploy`, `undeploy`, `status`)") == (
        "the-user-who-deploys-stedi-aws-deploy-undeploy-status"
    )


def test_the_link_finder_sees_links_and_ignores_code():
    text = "[a](x.md) `[b](y.md)` ![c](img.png)\n```\n[d](z.md)\n```\n[e](http://h/) [f](#g)"
    assert LINK.findall(_prose(text)) == ["x.md", "img.png", "http://h/", "#g"]


def test_the_readme_is_at_most_12000_characters():
    size = len(README.read_text(encoding="utf-8"))
    assert size <= README_LIMIT, f"README.md is {size:,} characters; move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / unquote(path)).resolve() if path else page
        if not target.is_relative_to(ROOT):
            broken.append(f"{link}: outside the project")
        elif not target.exists():
            broken.append(f"{link}: no {target.relative_to(ROOT)}")
        elif anchor and target.suffix == ".md" and unquote(anchor) not in anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in relative_links(README)}
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md")}
    assert not pages - linked, sorted(str(p.relative_to(ROOT)) for p in pages - linked)


def test_the_readme_shows_the_report_in_a_small_image_of_the_repository():
    images = [link for link in relative_links(README) if link.lower().endswith((".png", ".jpg"))]
    assert images, "the README shows no screenshot of the report"
    for image in images:
        assert (ROOT / image).stat().st_size < 300_000, f"{image} is over 300 kB"


def test_ci_runs_the_readmes_test_command():
    """The README is executable: `.ci/run` runs the command the README gives for the tests."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    commands = {line.split("#")[0].strip() for block in blocks for line in block.splitlines()}
    ci_script = (ROOT / ".ci" / "run").read_text().splitlines()
    ci = [line for line in ci_script if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"] and "make test" in commands and "make check" in commands
