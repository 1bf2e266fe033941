"Regenerate the papers table in README.md from the registry and results/ (run after `tinyrepro run ... --scale cpu`)."
from pathlib import Path
from tinyrepro.cli import papers_index_markdown

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
start, end = "<!-- papers:start -->", "<!-- papers:end -->"
head, rest = text.split(start)
_, tail = rest.split(end)
readme.write_text(f"{head}{start}\n{papers_index_markdown('cpu', links='repo')}\n{end}{tail}")
print(f"updated {readme}")
