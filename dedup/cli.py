"""The ``dedup`` command line: thin wrappers over the library, JSONL in and out, ``-`` for stdin.

Heavy modules (numba kernels, the embedding stack) are imported inside the commands, so ``--help``
answers at once and stage 1 never loads torch.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer

from dedup.config import NearDupConfig, StoryConfig
from dedup.records import FieldMap

app = typer.Typer(
    name="dedup",
    help="Find wire copies across news outlets and group articles into stories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OnError(StrEnum):
    fail = "fail"
    skip = "skip"


class Canonical(StrEnum):
    earliest = "earliest"
    longest = "longest"


class Engine(StrEnum):
    local = "local"
    ray = "ray"


# -- shared options ------------------------------------------------------------------------------

InputArg = Annotated[
    str, typer.Argument(help="JSONL input: a path, a .gz path, or - for stdin.", metavar="INPUT")
]
OutputOpt = Annotated[str | None, typer.Option("-o", "--output", help="JSONL output path (default: stdout).")]
IdField = Annotated[
    str, typer.Option("--id-field", help="Field holding the article id.", rich_help_panel="Fields")
]
TitleField = Annotated[
    str, typer.Option("--title-field", help="Field holding the headline.", rich_help_panel="Fields")
]
TextField = Annotated[
    str, typer.Option("--text-field", help="Field holding the body text.", rich_help_panel="Fields")
]
OutletField = Annotated[
    str, typer.Option("--outlet-field", help="Field holding the outlet name.", rich_help_panel="Fields")
]
DateField = Annotated[
    str,
    typer.Option(
        "--date-field",
        help="Field holding the publication time (ISO-8601 or epoch).",
        rich_help_panel="Fields",
    ),
]
OnErrorOpt = Annotated[
    OnError,
    typer.Option(
        "--on-error", help="Bad input line: stop with file:line: reason, or skip it into --rejects."
    ),
]
RejectsOpt = Annotated[
    Path | None, typer.Option("--rejects", help="Write skipped lines here as JSONL: line, reason, raw.")
]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="No summary, no progress bar.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers", help="Processes that parse and clean the input (default: one per CPU; 1: none)."
    ),
]
EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local: this machine. ray: a Ray cluster (pip install 'dedup-news[ray]'); INPUT may then "
        "be a directory of JSONL shards.",
        rich_help_panel="Scale-out",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="With --engine ray: the cluster to join (auto, ray://head:10001); default: start one here "
        "with --workers CPUs.",
        rich_help_panel="Scale-out",
    ),
]

_D = NearDupConfig()
_STAGE1 = "Near-duplicates"
ThresholdOpt = Annotated[
    float,
    typer.Option(
        "--threshold", help="Jaccard similarity at which two articles are copies.", rich_help_panel=_STAGE1
    ),
]
ContainmentOpt = Annotated[
    float,
    typer.Option(
        "--containment",
        help="Share of the smaller article inside the larger that makes a copy.",
        rich_help_panel=_STAGE1,
    ),
]
MinOverlapOpt = Annotated[
    int,
    typer.Option("--min-overlap", help="Shingles shared before containment counts.", rich_help_panel=_STAGE1),
]
ShingleOpt = Annotated[
    int, typer.Option("--shingle-size", help="Words per shingle.", rich_help_panel=_STAGE1)
]
NumPermOpt = Annotated[int, typer.Option("--num-perm", help="MinHash permutations.", rich_help_panel=_STAGE1)]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="MinHash seed (as datasketch's).", rich_help_panel=_STAGE1)
]
LeadOpt = Annotated[
    int,
    typer.Option(
        "--lead-shingles", help="Shingles in the lead used to find briefs.", rich_help_panel=_STAGE1
    ),
]
MinTokensOpt = Annotated[
    int, typer.Option("--min-tokens", help="Shorter articles stay singletons.", rich_help_panel=_STAGE1)
]
BoilerplateOpt = Annotated[
    int,
    typer.Option(
        "--boilerplate-min-articles",
        help="A line only one outlet has, recurring under this many of its headlines, is boilerplate (0: off).",
        rich_help_panel=_STAGE1,
    ),
]
LeadPermOpt = Annotated[
    int, typer.Option("--lead-perm", help="MinHash permutations of the lead.", rich_help_panel=_STAGE1)
]
LeadThresholdOpt = Annotated[
    float,
    typer.Option(
        "--lead-threshold", help="Jaccard of leads that makes a candidate pair.", rich_help_panel=_STAGE1
    ),
]
FrequentOpt = Annotated[
    int,
    typer.Option(
        "--boilerplate-frequent-articles",
        help="...and is boilerplate even if other outlets have it once it recurs under this many.",
        rich_help_panel=_STAGE1,
    ),
]
BatchOpt = Annotated[
    int, typer.Option("--batch-size", help="Articles per compiled tokeniser call.", rich_help_panel=_STAGE1)
]
MaxBucketOpt = Annotated[
    int,
    typer.Option(
        "--max-bucket",
        help="LSH buckets above this size yield a star and a chain (0: all pairs).",
        rich_help_panel=_STAGE1,
    ),
]
CanonicalOpt = Annotated[
    Canonical, typer.Option("--canonical", help="Which copy represents its group.", rich_help_panel=_STAGE1)
]


def _print_version(value: bool) -> None:
    if value:
        from dedup import __version__

        typer.echo(f"dedup {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """Find wire copies across news outlets and group articles into stories.

    Start with: dedup near-dups fixtures/articles.jsonl -o marked.jsonl
    """


_S = StoryConfig()
_STAGE2 = "Stories"
StoryThresholdOpt = Annotated[
    float,
    typer.Option(
        "--story-threshold",
        help="Average similarity at which articles form one story.",
        rich_help_panel=_STAGE2,
    ),
]
WindowOpt = Annotated[
    float,
    typer.Option(
        "--window",
        help="Days: articles further apart never share a story (0: no limit).",
        rich_help_panel=_STAGE2,
    ),
]
NameWeightOpt = Annotated[
    float,
    typer.Option(
        "--name-weight",
        help="Weight of shared names next to the embedding (0: embedding only).",
        rich_help_panel=_STAGE2,
    ),
]
CenterOpt = Annotated[
    bool,
    typer.Option(
        "--center/--no-center", help="Subtract the mean embedding before comparing.", rich_help_panel=_STAGE2
    ),
]
BaselineOpt = Annotated[
    float | None,
    typer.Option(
        "--baseline",
        help="Embedding cosine of unrelated articles that calibrates the story threshold "
        "(default: measured on the input; 0: raw cosines).",
        rich_help_panel=_STAGE2,
    ),
]
NameDimsOpt = Annotated[
    int, typer.Option("--name-dims", help="Dimensions of the name vectors.", rich_help_panel=_STAGE2)
]
KOpt = Annotated[
    int,
    typer.Option(
        "--neighbours", help="Nearest neighbours per article in the graph.", rich_help_panel=_STAGE2
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="Embedding model: minilm (packaged), static, or a local model directory.",
        rich_help_panel=_STAGE2,
    ),
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="The static model distilled from MiniLM alone: about 20x faster embeddings.",
        rich_help_panel=_STAGE2,
    ),
]
SeqOpt = Annotated[
    int,
    typer.Option(
        "--max-seq-length", help="Word pieces the transformer reads per article.", rich_help_panel=_STAGE2
    ),
]
StaticWeightOpt = Annotated[
    float,
    typer.Option(
        "--static-weight",
        help="Share of the similarity from the static model reading the whole lead (0: transformer alone).",
        rich_help_panel=_STAGE2,
    ),
]
LeadWordsOpt = Annotated[
    int, typer.Option("--lead-words", help="Body words embedded after the headline.", rich_help_panel=_STAGE2)
]
EmbedBatchOpt = Annotated[
    int, typer.Option("--embed-batch-size", help="Articles per embedding batch.", rich_help_panel=_STAGE2)
]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="auto (GPU if present), cpu, cuda, ...", rich_help_panel=_STAGE2)
]
CacheDirOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-dir",
        help="Embedding cache and distilled models (default ~/.cache/dedup).",
        rich_help_panel=_STAGE2,
    ),
]
KeywordsOpt = Annotated[
    int, typer.Option("--keywords", help="Keywords per story record.", rich_help_panel=_STAGE2)
]
MaxExactOpt = Annotated[
    int,
    typer.Option(
        "--max-exact", help="Largest group clustered exactly before it is split.", rich_help_panel=_STAGE2
    ),
]
StoriesOpt = Annotated[
    Path | None, typer.Option("--stories", help="Write one JSON record per story here (JSONL).")
]


def _story_config(**values) -> StoryConfig:
    try:
        return StoryConfig(**values)
    except ValueError as err:
        raise _fail(str(err), 2) from None


# -- helpers -------------------------------------------------------------------------------------


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"dedup: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _accounted(rejects: Path | None):
    """The frame of every command that reads articles: rejects written only on success, input errors
    turned into ``file:line: reason`` messages, and the count check (lines = written + rejected)."""
    from dedup.io import RejectWriter
    from dedup.runner import InputError

    tally = _Tally(RejectWriter(rejects))
    ok = False
    try:
        yield tally
        ok = True
    except InputError as err:
        raise _fail(f"{err} (use --on-error skip --rejects FILE to skip such lines)") from None
    except FileNotFoundError as err:
        raise _fail(str(err)) from None
    finally:
        tally.rejects.close(ok)


@dataclass
class _Tally:
    rejects: object

    def check(self, scan, written: int) -> None:
        """Every input line is accounted for, always: an output record or a reject."""
        if written + self.rejects.count != scan.lines:
            raise _fail(
                f"internal error: {scan.lines} lines but {written} written + {self.rejects.count} rejected", 3
            )


@contextmanager
def _progress(quiet: bool, description: str):
    """A transient progress display on stderr when it is a terminal; a no-op otherwise."""
    if quiet or not sys.stderr.isatty():
        yield lambda phase, done, total=None: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, detail="")

        def update(phase: str, done: int, total: int | None = None) -> None:
            bar.update(task, description=phase, detail=f"{done:,} articles")

        yield update


@contextmanager
def _input_path(source: str):
    """The input as a path that can be read twice (stdin is spooled to a temporary file)."""
    if source != "-":
        path = Path(source)
        if not path.exists():
            raise _fail(f"{source}: no such file")
        yield path
        return
    from dedup.io import spool_stdin

    path = spool_stdin()
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _near_dup_config(**values) -> NearDupConfig:
    try:
        return NearDupConfig(**values)
    except ValueError as err:
        raise _fail(str(err), 2) from None


# -- commands ------------------------------------------------------------------------------------


@app.command("near-dups")
def near_dups(
    input: InputArg,
    output: OutputOpt = None,
    id_field: IdField = "id",
    title_field: TitleField = "title",
    text_field: TextField = "text",
    outlet_field: OutletField = "outlet",
    date_field: DateField = "published_at",
    threshold: ThresholdOpt = _D.threshold,
    containment: ContainmentOpt = _D.containment,
    min_overlap: MinOverlapOpt = _D.min_overlap,
    shingle_size: ShingleOpt = _D.shingle_size,
    num_perm: NumPermOpt = _D.num_perm,
    seed: SeedOpt = _D.seed,
    lead_shingles: LeadOpt = _D.lead_shingles,
    min_tokens: MinTokensOpt = _D.min_tokens,
    lead_perm: LeadPermOpt = _D.lead_perm,
    lead_threshold: LeadThresholdOpt = _D.lead_threshold,
    boilerplate_min_articles: BoilerplateOpt = _D.boilerplate_min_articles,
    boilerplate_frequent_articles: FrequentOpt = _D.boilerplate_frequent_articles,
    canonical: CanonicalOpt = Canonical.earliest,
    batch_size: BatchOpt = _D.batch_size,
    max_bucket: MaxBucketOpt = _D.max_bucket,
    on_error: OnErrorOpt = OnError.fail,
    rejects: RejectsOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Mark the near-duplicate copies in a JSONL dump of articles (stage 1).

    Every record comes back, in input order and with all its fields, plus dup_group (the id of its
    group's canonical article) and is_canonical.

    Example:  dedup near-dups fixtures/articles.jsonl -o marked.jsonl
    """
    config = _near_dup_config(
        threshold=threshold,
        containment=containment,
        min_overlap=min_overlap,
        shingle_size=shingle_size,
        num_perm=num_perm,
        seed=seed,
        lead_shingles=lead_shingles,
        min_tokens=min_tokens,
        lead_perm=lead_perm,
        lead_threshold=lead_threshold,
        boilerplate_min_articles=boilerplate_min_articles,
        boilerplate_frequent_articles=boilerplate_frequent_articles,
        canonical=canonical.value,
        batch_size=batch_size,
        max_bucket=max_bucket,
    )
    fields = FieldMap(id_field, title_field, text_field, outlet_field, date_field)
    started = time.perf_counter()
    if engine is Engine.ray:
        _on_ray(input, output, rejects, config, None, None, fields, on_error, address, workers, quiet)
        return

    from dedup.normalize import encode_texts, shingle_text
    from dedup.runner import read_ahead, scan_articles, worker_pool, write_annotated

    with _accounted(rejects) as tally:
        reject_writer = tally.rejects
        with (
            _input_path(input) as path,
            _progress(quiet, "reading") as progress,
            worker_pool(workers) or nullcontext() as pool,
        ):
            pack = _tokenizing_workers(pool)
            reading = read_ahead(
                path, pool, prepare=shingle_text, fields=fields, pack=pack, ahead=_READ_AHEAD
            )
            _load_compiled_core()  # while the workers parse
            from dedup.neardup import DupFinder

            finder = DupFinder(config, progress)
            scan = scan_articles(
                path,
                finder.add_prepared,
                prepare=shingle_text,
                fields=fields,
                on_error=on_error.value,
                rejects=reject_writer,
                display_name=input if input != "-" else "<stdin>",
                pool=pool,
                pack=pack,
                accept_pack=finder.add_encoded if pack is encode_texts else finder.add_tokens,
                started=reading,
            )
            result = finder.finish()
            progress("writing", len(result), len(result))
            ids, canonical_of = result.ids, result.canonical.tolist()
            columns = {
                "dup_group": [ids[c] for c in canonical_of],
                "is_canonical": [c == i for i, c in enumerate(canonical_of)],
            }
            written = write_annotated(scan, output, columns, pool)
        tally.check(scan, written)
    if not quiet:
        s = result.stats
        rejected = f", {reject_writer.count:,} rejected" if reject_writer.count else ""
        typer.echo(
            f"dedup: {s.articles:,} articles -> {s.groups:,} dup groups, {s.duplicates:,} duplicates removed"
            f"{rejected} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


def _on_ray(
    input: str,
    output: str | None,
    rejects: Path | None,
    near: NearDupConfig,
    story_cfg: StoryConfig | None,
    stories: Path | None,
    fields: FieldMap,
    on_error: OnError,
    address: str | None,
    workers: int | None,
    quiet: bool,
) -> None:
    """``near-dups``/``run`` with ``--engine ray``: same outputs, same accounting."""
    started = time.perf_counter()
    try:
        from dedup.ray_engine import RayOptions, input_shards, reject_records, run_ray, write_output
    except ImportError as err:
        raise _fail(
            f"--engine ray needs Ray ({err.name} is missing): pip install 'dedup-news[ray]'"
        ) from None
    from dedup.io import atomic_output

    with _accounted(rejects) as tally:
        try:
            paths = input_shards(input)
        except ValueError as err:
            raise _fail(str(err), 2) from None
        run = run_ray(
            paths,
            near,
            fields=fields,
            on_error=on_error.value,
            stories=story_cfg,
            options=RayOptions(address=address, num_cpus=workers, progress=not quiet and sys.stderr.isatty()),
        )
        for _, reject in reject_records(run, name_files=len(paths) > 1):
            tally.rejects.write(reject)
        with atomic_output(output) as out:
            written = write_output(run, out, fields.id)
        if stories is not None:
            _write_stories(stories, run.stories)
        tally.check(SimpleNamespace(lines=run.lines_read), written)
    if not quiet:
        rejected = f", {tally.rejects.count:,} rejected" if tally.rejects.count else ""
        told = f" -> {len(run.stories):,} stories" if story_cfg is not None and stories is not None else ""
        typer.echo(
            f"dedup (ray): {run.articles:,} articles -> {run.articles - run.duplicates:,} dup groups, "
            f"{run.duplicates:,} duplicates{told}{rejected} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


def _stage1_values(values: dict) -> dict:
    names = NearDupConfig.field_names()
    out = {k: values[k] for k in names if k in values}
    if isinstance(out.get("canonical"), Canonical):
        out["canonical"] = out["canonical"].value
    return out


def _stage2_values(values: dict) -> dict:
    rename = {
        "story_threshold": "threshold",
        "window": "window_days",
        "neighbours": "k",
        "embed_batch_size": "batch_size",
    }
    names = set(StoryConfig().as_dict())
    return {rename.get(k, k): v for k, v in values.items() if rename.get(k, k) in names}


def _write_stories(path: Path | None, records: list[dict]) -> None:
    if path is None:
        return
    from dedup.io import atomic_output, dump_record

    with atomic_output(path) as out:
        for record in records:
            out.write(dump_record(record))


@app.command("run")
def run_command(
    input: InputArg,
    output: OutputOpt = None,
    stories: StoriesOpt = None,
    id_field: IdField = "id",
    title_field: TitleField = "title",
    text_field: TextField = "text",
    outlet_field: OutletField = "outlet",
    date_field: DateField = "published_at",
    threshold: ThresholdOpt = _D.threshold,
    containment: ContainmentOpt = _D.containment,
    min_overlap: MinOverlapOpt = _D.min_overlap,
    shingle_size: ShingleOpt = _D.shingle_size,
    num_perm: NumPermOpt = _D.num_perm,
    seed: SeedOpt = _D.seed,
    lead_shingles: LeadOpt = _D.lead_shingles,
    min_tokens: MinTokensOpt = _D.min_tokens,
    lead_perm: LeadPermOpt = _D.lead_perm,
    lead_threshold: LeadThresholdOpt = _D.lead_threshold,
    boilerplate_min_articles: BoilerplateOpt = _D.boilerplate_min_articles,
    boilerplate_frequent_articles: FrequentOpt = _D.boilerplate_frequent_articles,
    canonical: CanonicalOpt = Canonical.earliest,
    batch_size: BatchOpt = _D.batch_size,
    max_bucket: MaxBucketOpt = _D.max_bucket,
    story_threshold: StoryThresholdOpt = _S.threshold,
    window: WindowOpt = _S.window_days,
    name_weight: NameWeightOpt = _S.name_weight,
    name_dims: NameDimsOpt = _S.name_dims,
    center: CenterOpt = _S.center,
    baseline: BaselineOpt = None,
    neighbours: KOpt = _S.k,
    model: ModelOpt = _S.model,
    fast: FastOpt = False,
    max_seq_length: SeqOpt = _S.max_seq_length,
    static_weight: StaticWeightOpt = _S.static_weight,
    lead_words: LeadWordsOpt = _S.lead_words,
    embed_batch_size: EmbedBatchOpt = _S.batch_size,
    device: DeviceOpt = _S.device,
    cache_dir: CacheDirOpt = None,
    keywords: KeywordsOpt = _S.keywords,
    on_error: OnErrorOpt = OnError.fail,
    rejects: RejectsOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run both stages: mark wire copies, then group the distinct articles into stories.

    Every record comes back with dup_group, is_canonical and story; --stories writes one record per
    story (id, size, outlets, time span, headline, keywords, members).

    Example:  dedup run fixtures/articles.jsonl -o out.jsonl --stories stories.jsonl
    """
    values = dict(locals())
    near = _near_dup_config(**_stage1_values(values))
    story_cfg = _story_config(**_stage2_values(values))
    fields = FieldMap(id_field, title_field, text_field, outlet_field, date_field)
    started = time.perf_counter()
    if engine is Engine.ray:
        _on_ray(input, output, rejects, near, story_cfg, stories, fields, on_error, address, workers, quiet)
        return

    import numpy as np

    from dedup.neardup import DupFinder
    from dedup.pipeline import StageTexts, find_stories, tokenize_stage_texts
    from dedup.runner import scan_articles, worker_pool, write_annotated
    from dedup.shingle import warm_tokenizer

    with _accounted(rejects) as tally:
        reject_writer = tally.rejects
        with (
            _input_path(input) as path,
            _progress(quiet, "reading") as progress,
            worker_pool(workers) or nullcontext() as pool,
        ):
            finder = DupFinder(near, progress)
            texts: list[str] = []
            titles: list[str] = []
            outlets: list[str | None] = []
            dates: list[float] = []

            def accept(article, payload) -> None:
                shingle, story_txt, title = payload
                finder.add_prepared(article, shingle)
                texts.append(story_txt)
                titles.append(title)
                outlets.append(article.outlet)
                dates.append(np.nan if article.published_at is None else article.published_at)

            if pool is not None:
                warm_tokenizer()  # before the workers fork: they tokenise too
            scan = scan_articles(
                path,
                accept,
                prepare=StageTexts(story_cfg.lead_words),
                fields=fields,
                on_error=on_error.value,
                rejects=reject_writer,
                display_name=input if input != "-" else "<stdin>",
                pool=pool,
                pack=tokenize_stage_texts,
                accept_pack=finder.add_tokens,
            )
            dups = finder.finish()
            result = find_stories(
                dups.ids,
                dups.canonical,
                texts,
                titles,
                outlets,
                np.array(dates, dtype=np.float64),
                story_cfg,
                progress,
            )
            progress("writing", len(dups), len(dups))
            ids, canonical_of = dups.ids, dups.canonical.tolist()
            columns = {
                "dup_group": [ids[c] for c in canonical_of],
                "is_canonical": [c == i for i, c in enumerate(canonical_of)],
                "story": result.story,
            }
            written = write_annotated(scan, output, columns, pool)
            _write_stories(stories, result.stories)
        tally.check(scan, written)
    if not quiet:
        s = dups.stats
        rejected = f", {reject_writer.count:,} rejected" if reject_writer.count else ""
        typer.echo(
            f"dedup: {s.articles:,} articles -> {s.groups:,} dup groups ({s.duplicates:,} duplicates) -> "
            f"{len(result.stories):,} stories{rejected} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


@app.command("cluster")
def cluster_command(
    input: InputArg,
    output: OutputOpt = None,
    stories: StoriesOpt = None,
    id_field: IdField = "id",
    title_field: TitleField = "title",
    text_field: TextField = "text",
    outlet_field: OutletField = "outlet",
    date_field: DateField = "published_at",
    dup_group_field: Annotated[
        str,
        typer.Option(
            "--dup-group-field", help="Stage-1 field naming each record's canonical article, if present."
        ),
    ] = "dup_group",
    story_threshold: StoryThresholdOpt = _S.threshold,
    window: WindowOpt = _S.window_days,
    name_weight: NameWeightOpt = _S.name_weight,
    name_dims: NameDimsOpt = _S.name_dims,
    center: CenterOpt = _S.center,
    baseline: BaselineOpt = None,
    neighbours: KOpt = _S.k,
    model: ModelOpt = _S.model,
    fast: FastOpt = False,
    max_seq_length: SeqOpt = _S.max_seq_length,
    static_weight: StaticWeightOpt = _S.static_weight,
    lead_words: LeadWordsOpt = _S.lead_words,
    embed_batch_size: EmbedBatchOpt = _S.batch_size,
    device: DeviceOpt = _S.device,
    cache_dir: CacheDirOpt = None,
    keywords: KeywordsOpt = _S.keywords,
    on_error: OnErrorOpt = OnError.fail,
    rejects: RejectsOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Group articles into stories (stage 2 alone).

    On near-dups output, only canonical articles are clustered and the others follow their dup_group;
    on any other JSONL, every record is clustered.

    Example:  dedup cluster marked.jsonl -o stories.out.jsonl --stories stories.jsonl
    """
    values = dict(locals())
    story_cfg = _story_config(**_stage2_values(values))
    fields = FieldMap(id_field, title_field, text_field, outlet_field, date_field)
    started = time.perf_counter()

    import numpy as np

    from dedup.pipeline import ClusterTexts, find_stories
    from dedup.records import RecordError
    from dedup.runner import scan_articles, worker_pool, write_annotated

    with _accounted(rejects) as tally:
        reject_writer = tally.rejects
        with (
            _input_path(input) as path,
            _progress(quiet, "reading") as progress,
            worker_pool(workers) or nullcontext() as pool,
        ):
            ids: list = []
            index: dict = {}
            groups: list = []
            texts: list[str] = []
            titles: list[str] = []
            outlets: list[str | None] = []
            dates: list[float] = []

            def accept(article, payload) -> None:
                if article.id in index:
                    raise RecordError(f"duplicate id {article.id!r}")
                story_txt, title, dup = payload
                if not isinstance(dup, str | int) or isinstance(dup, bool):
                    dup = None  # not an article id (plain JSONL may use the field for anything)
                index[article.id] = len(ids)
                ids.append(article.id)
                groups.append(dup)
                texts.append(story_txt)
                titles.append(title)
                outlets.append(article.outlet)
                dates.append(np.nan if article.published_at is None else article.published_at)

            scan = scan_articles(
                path,
                accept,
                prepare=ClusterTexts(story_cfg.lead_words, dup_group_field),
                fields=fields,
                on_error=on_error.value,
                rejects=reject_writer,
                display_name=input if input != "-" else "<stdin>",
                pool=pool,
            )
            # a record follows its dup group's canonical article when that article is here too
            canonical = np.array([index.get(g, i) for i, g in enumerate(groups)], dtype=np.int64)
            canonical = canonical[canonical]  # chains of one step at most after stage 1; be safe
            result = find_stories(
                ids, canonical, texts, titles, outlets, np.array(dates, dtype=np.float64), story_cfg, progress
            )
            written = write_annotated(scan, output, {"story": result.story}, pool)
            _write_stories(stories, result.stories)
        tally.check(scan, written)
    if not quiet:
        typer.echo(
            f"dedup: {len(ids):,} articles -> {len(result.stories):,} stories ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


def _read_labels(path: Path, id_field: str, label_field: str, role: str) -> dict:
    """id -> label from JSONL (or a Miranda JSON array / UCI CSV for the truth)."""
    from dedup.io import read_lines

    if path.suffix in (".json", ".csv") or path.name.endswith((".json.gz", ".csv.gz")):
        from dedup.formats import read_miranda, read_uci_csv

        reader = read_uci_csv(path) if ".csv" in path.suffixes else read_miranda(path, lang=None)
        labels, fields_seen = {}, set()
        try:
            for r in reader:
                if label_field in r:
                    labels[r["id"]] = r[label_field]
                elif not labels:
                    fields_seen.update(r)
        except ValueError as err:
            raise _fail(str(err)) from None
        if not labels and fields_seen:
            raise _fail(
                f"{path}: no record has the {role} field {label_field!r}; "
                f"fields there: {', '.join(sorted(fields_seen))}"
            )
        return labels
    labels = {}
    for line in read_lines(path):
        if line.error is not None or not isinstance(line.record, dict):
            if line.error == "blank line":
                continue
            raise _fail(f"{path}:{line.number}: {line.error or 'not a JSON object'}")
        record = line.record
        if id_field not in record:
            raise _fail(f'{path}:{line.number}: no id field "{id_field}" in the {role} (use --id-field)')
        if label_field not in record:
            raise _fail(f'{path}:{line.number}: no field "{label_field}" in the {role} (use --{role}-field)')
        labels[record[id_field]] = record[label_field]
    return labels


@app.command("eval")
def eval_command(
    pred: Annotated[
        Path, typer.Argument(help="Predictions: JSONL with an id and a cluster label per record.")
    ],
    truth: Annotated[
        Path, typer.Option("--truth", help="Gold labels: JSONL, a Miranda et al. JSON array, or UCI CSV.")
    ],
    pred_field: Annotated[
        str, typer.Option("--pred-field", help="Predicted cluster field (dup_group for stage 1).")
    ] = "story",
    truth_field: Annotated[str, typer.Option("--truth-field", help="Gold cluster field.")] = "story",
    id_field: IdField = "id",
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")] = False,
) -> None:
    """Score a clustering against gold labels: pairwise and B-cubed P/R/F1, ARI, NMI.

    Ids on one side only are counted as singletons on the other and reported.

    Example:  dedup eval stories.out.jsonl --truth gold.jsonl --pred-field story --truth-field story
    """
    import orjson

    from dedup.evaluate import format_scores, score_clusters

    for path in (pred, truth):
        if not path.exists():
            raise _fail(f"{path}: no such file")
    scores = score_clusters(
        _read_labels(pred, id_field, pred_field, "pred"), _read_labels(truth, id_field, truth_field, "truth")
    )
    if as_json:
        typer.echo(orjson.dumps(scores.as_dict()).decode())
    else:
        typer.echo(format_scores(scores))


@app.command("synth")
def synth_command(
    output: Annotated[str, typer.Argument(help="Where to write the labelled corpus (JSONL, - for stdout).")],
    bases: Annotated[
        Path | None,
        typer.Option(
            "--bases", help="Your own articles (JSONL with title and text) to copy; default: built-in."
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", "--articles", help="Records to generate.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed and bases, same bytes.")] = 0,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="JSONL of known duplicate base pairs (a, b): b is dropped.")
    ] = None,
    dedup_bases: Annotated[
        bool,
        typer.Option(
            "--dedup-bases/--keep-bases", help="Drop bases that stage 1 finds to be copies of each other."
        ),
    ] = True,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Any other generator setting, e.g. --set p_brief=0.1 (see dedup.synth.SynthConfig)."
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Generate a labelled wire-copy corpus (truth_dup, truth_story) to test dedup on your own data.

    Example:  dedup synth corpus.jsonl --bases my_articles.jsonl -n 50000 --seed 1
    """
    import dataclasses

    from dedup.io import atomic_output, dump_record
    from dedup.synth import SynthConfig, generate_corpus, load_bases

    overrides: dict = {}
    fields = {f.name: f for f in dataclasses.fields(SynthConfig)}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise _fail(
                f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(fields))}", 2
            )
        kind = type(getattr(SynthConfig(), key))
        try:
            overrides[key] = kind(value)
        except ValueError:
            raise _fail(f"--set {item!r}: {value!r} is not a {kind.__name__}", 2) from None
    try:
        config = SynthConfig(seed=seed, n_articles=n, **overrides)
    except (TypeError, ValueError) as err:
        raise _fail(str(err), 2) from None
    base_list = None
    if bases is not None:
        if not bases.exists():
            raise _fail(f"{bases}: no such file")
        try:
            base_list = load_bases(bases, pairs=pairs)
        except ValueError as err:
            raise _fail(str(err)) from None
        if dedup_bases and len(base_list) > 1:
            from dedup.neardup import find_near_duplicates

            result = find_near_duplicates(
                [{"id": i, "title": b.get("title") or "", "text": b["text"]} for i, b in enumerate(base_list)]
            )
            keep = result.is_canonical
            dropped = len(base_list) - int(keep.sum())
            base_list = [b for b, k in zip(base_list, keep, strict=True) if k]
            if dropped and not quiet:
                typer.echo(f"dedup: dropped {dropped} bases that copy another base", err=True)
    count = 0
    with atomic_output(output) as out:
        for record in generate_corpus(base_list, config):
            out.write(dump_record(record))
            count += 1
    if not quiet:
        typer.echo(f"dedup: wrote {count:,} labelled articles to {output}", err=True)


def _parse_grid(items: list[str] | None, defaults: dict[str, str]) -> dict[str, list[float]]:
    """``name=lo:hi:step`` or ``name=a,b,c`` -> values; names missing from ``items`` take ``defaults``."""
    import numpy as np

    raw = dict(defaults)
    for item in items or []:
        name, sep, spec = item.partition("=")
        if not sep:
            raise _fail(f"--grid {item!r}: expected NAME=LO:HI:STEP or NAME=A,B,C", 2)
        raw[name.strip().replace("-", "_")] = spec
    grid: dict[str, list[float]] = {}
    for name, spec in raw.items():
        try:
            if ":" in spec:
                lo, hi, step = (float(x) for x in spec.split(":"))
                values = [round(float(v), 6) for v in np.arange(lo, hi + step / 2, step)]
            else:
                values = [float(v) for v in spec.split(",")]
        except ValueError:
            raise _fail(f"--grid {name}={spec!r}: not numbers", 2) from None
        grid[name] = [int(v) if name in ("min_overlap", "k") else v for v in values]
    return grid


def _plot_curve(result, path: Path, x_name: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise _fail("--plot needs matplotlib: pip install matplotlib", 2) from None
    lines: dict[tuple, list[tuple[float, float]]] = {}
    for setting, value in result.curve:
        rest = tuple((k, v) for k, v in setting.items() if k != x_name)
        lines.setdefault(rest, []).append((setting[x_name], value))
    fig, ax = plt.subplots(figsize=(7, 4))
    for rest, points in sorted(lines.items()):
        points.sort()
        label = ", ".join(f"{k}={v}" for k, v in rest) or "all data"
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=label)
    ax.axvline(result.best[x_name], color="grey", ls="--", lw=1)
    ax.set_xlabel(x_name)
    ax.set_ylabel(result.metric)
    ax.set_title(f"{result.metric} on all data (CV estimate {result.cv_mean:.3f} ± {result.cv_std:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@app.command("tune")
def tune_command(
    input: InputArg,
    stage: Annotated[int, typer.Option("--stage", help="1: dup-group thresholds; 2: story thresholds.")] = 2,
    truth_field: Annotated[
        str, typer.Option("--truth-field", help="Gold cluster field in the input (dup groups or stories).")
    ] = "story",
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            help="Setting to search, NAME=LO:HI:STEP or NAME=A,B,C; repeatable. Stage 1 default: threshold "
            "and containment; stage 2: threshold.",
        ),
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds over gold clusters.")] = 5,
    metric: Annotated[
        str, typer.Option("--metric", help="bcubed_f1, pairwise_f1, ari or nmi.")
    ] = "bcubed_f1",
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the score curve as a PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    id_field: IdField = "id",
    title_field: TitleField = "title",
    text_field: TextField = "text",
    outlet_field: OutletField = "outlet",
    date_field: DateField = "published_at",
    model: ModelOpt = _S.model,
    fast: FastOpt = False,
    cache_dir: CacheDirOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Choose a stage's thresholds on labelled data by cross-validation over the gold clusters.

    Prints the best setting on all data with its scores, and the cross-validated estimate of how the
    choice does on clusters it has not seen.

    Example:  dedup tune labelled.jsonl --stage 2 --truth-field story --grid threshold=0.1:0.4:0.02 --plot curve.png
    """
    import numpy as np
    import orjson

    from dedup.evaluate import format_scores
    from dedup.io import read_lines
    from dedup.records import RecordError, article_from_record

    if metric not in ("bcubed_f1", "pairwise_f1", "ari", "nmi"):
        raise _fail(f"--metric {metric!r}: use bcubed_f1, pairwise_f1, ari or nmi", 2)
    if stage not in (1, 2):
        raise _fail("--stage is 1 or 2", 2)
    fields = FieldMap(id_field, title_field, text_field, outlet_field, date_field)
    with _input_path(input) as path:
        records, truth = [], []
        for line in read_lines(path):
            if line.error == "blank line":
                continue
            if line.error is not None:
                raise _fail(f"{input}:{line.number}: {line.error}")
            try:
                article = article_from_record(line.record, fields)
            except RecordError as err:
                raise _fail(f"{input}:{line.number}: {err}") from None
            if truth_field not in line.record:
                raise _fail(f'{input}:{line.number}: no gold field "{truth_field}" (use --truth-field)')
            records.append(article)
            truth.append(str(line.record[truth_field]))
    truth_arr = np.array(truth)
    if stage == 1:
        from dedup.tune import tune_near_dups

        space = _parse_grid(grid, {"threshold": "0.3:0.7:0.05", "containment": "0.5:0.9:0.1"})
        try:
            result = tune_near_dups(records, truth_arr, space, metric=metric, folds=folds)
        except TypeError as err:
            raise _fail(f"--grid: {err}", 2) from None
    else:
        from dedup.embed import EmbeddingCache, embed_all, resolve_cache_dir, story_embedder
        from dedup.pipeline import story_text
        from dedup.tune import tune_stories

        config = _story_config(model=model, fast=fast, cache_dir=cache_dir)
        space = _parse_grid(grid, {"threshold": "0.1:0.4:0.02"})
        texts = [story_text(a, config.lead_words) for a in records]
        embedder = story_embedder(config)
        cache = EmbeddingCache(resolve_cache_dir(cache_dir), embedder.name)
        try:
            embeddings = embed_all(embedder, texts, cache)
        finally:
            cache.close()
        times = np.array([np.nan if a.published_at is None else a.published_at for a in records])
        try:
            result = tune_stories(
                embeddings, texts, times, truth_arr, space, config, metric=metric, folds=folds
            )
        except TypeError as err:
            raise _fail(f"--grid: {err}", 2) from None
    if plot is not None:
        _plot_curve(result, plot, "threshold" if "threshold" in result.best else next(iter(result.best)))
    if as_json:
        typer.echo(orjson.dumps(result.as_dict()).decode())
        return
    typer.echo(f"best setting on all data: {', '.join(f'{k}={v}' for k, v in result.best.items())}")
    typer.echo(
        f"cross-validated {metric} ({folds} folds over gold clusters): {result.cv_mean:.4f} ± {result.cv_std:.4f}"
    )
    typer.echo(
        "per-fold choices: "
        + "; ".join(", ".join(f"{k}={v}" for k, v in c.items()) for c in result.fold_choices)
    )
    typer.echo("")
    typer.echo(format_scores(result.best_scores))


def _parse_days(text: str | None) -> float | None:
    """'30d', '12h', '2w' or a plain number of days."""
    if text is None:
        return None
    units = {"d": 1.0, "h": 1 / 24, "w": 7.0}
    raw = text.strip().lower()
    unit = units.get(raw[-1:]) if raw else None
    try:
        value = float(raw[:-1] if unit else raw) * (unit or 1.0)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise _fail(f"--retain takes a positive duration such as 30d, 12h or 2w, not {text!r}", 2)
    return value


@app.command("ingest")
def ingest_command(
    input: InputArg,
    index: Annotated[
        Path, typer.Option("--index", help="Index directory (created on first use).", show_default=False)
    ],
    output: OutputOpt = None,
    id_field: IdField = "id",
    title_field: TitleField = "title",
    text_field: TextField = "text",
    outlet_field: OutletField = "outlet",
    date_field: DateField = "published_at",
    retain: Annotated[
        str | None,
        typer.Option(
            "--retain",
            help="Keep articles older than this (30d, 12h, 2w) before the newest out of matching; "
            "their assignments stay queryable.",
        ),
    ] = None,
    stories: Annotated[
        bool | None,
        typer.Option(
            "--stories/--no-stories",
            help="Assign stories (default on; set when the index is created).",
            show_default=False,
        ),
    ] = None,
    threshold: ThresholdOpt = _D.threshold,
    containment: ContainmentOpt = _D.containment,
    min_overlap: MinOverlapOpt = _D.min_overlap,
    shingle_size: ShingleOpt = _D.shingle_size,
    num_perm: NumPermOpt = _D.num_perm,
    seed: SeedOpt = _D.seed,
    canonical: CanonicalOpt = Canonical.earliest,
    story_threshold: Annotated[
        float | None,
        typer.Option(
            "--story-threshold",
            help=f"Story threshold (default {_S.threshold}; may change between runs).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        float | None,
        typer.Option(
            "--window",
            help=f"Story window in days (default {_S.window_days}; may change between runs).",
            show_default=False,
        ),
    ] = None,
    name_weight: Annotated[
        float | None,
        typer.Option(
            "--name-weight",
            help=f"Weight of shared names (default {_S.name_weight}; set at creation).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Embedding model (default minilm; set at creation).", show_default=False
        ),
    ] = None,
    fast: Annotated[
        bool | None,
        typer.Option("--fast", help="Static embedding model (set at creation).", show_default=False),
    ] = None,
    cache_dir: CacheDirOpt = None,
    on_error: OnErrorOpt = OnError.fail,
    rejects: RejectsOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Add a JSONL batch to a persistent index: each article joins the dup groups and stories seen before.

    The whole input is one atomic batch. Every record comes back with dup_group, is_canonical and
    story; ids stay stable from run to run. Stage-1 settings are fixed when the index is created.

    Example:  dedup ingest --index news.idx today.jsonl -o today.out.jsonl --retain 30d
    """
    near_values = dict(
        threshold=threshold,
        containment=containment,
        min_overlap=min_overlap,
        shingle_size=shingle_size,
        num_perm=num_perm,
        seed=seed,
        canonical=canonical.value,
    )
    near = _near_dup_config(**near_values)
    stage1_given = any(getattr(_D, k) != v for k, v in near_values.items())
    from dedup.index import Index, IndexConfig, IndexLocked, IndexMismatch

    # story settings: those given on the command line over the index's own (or the defaults)
    existing = Index.stored_config(index)
    given = {
        k: v
        for k, v in dict(
            threshold=story_threshold,
            window_days=window,
            name_weight=name_weight,
            model=model,
            fast=fast,
            cache_dir=cache_dir,
        ).items()
        if v is not None
    }
    if stories is None:
        stories = existing is None or existing.stories is not None
    base = existing.stories if existing is not None and existing.stories is not None else StoryConfig()
    story_cfg = _story_config(**{**base.as_dict(), **given}) if stories else None
    retain_days = _parse_days(retain)
    if retain_days is None and existing is not None:
        retain_days = existing.retain_days
    fields = FieldMap(id_field, title_field, text_field, outlet_field, date_field)
    started = time.perf_counter()

    from dedup.records import RecordError
    from dedup.runner import read_ahead, scan_articles, worker_pool, write_annotated

    with _accounted(rejects) as tally:
        reject_writer = tally.rejects
        with (
            _input_path(input) as path,
            _progress(quiet, "reading") as progress,
            worker_pool(workers) or nullcontext() as pool,
        ):
            reading = read_ahead(path, pool, prepare=_article_and_text, fields=fields, ahead=_READ_AHEAD)
            _load_compiled_core()  # while the workers parse and clean
            try:
                store = Index.open(
                    index, IndexConfig(near, story_cfg, retain_days), keep_stage1=not stage1_given
                )
            except (IndexLocked, IndexMismatch, ValueError) as err:
                raise _fail(str(err)) from None
            with store:
                articles: list = []
                texts: list[bytes] = []
                seen: set = set()

                def accept(article, payload) -> None:
                    if article.id in seen:
                        raise RecordError(f"duplicate id {article.id!r} in this input")
                    if store.lookup([article.id]):
                        raise RecordError(f"id {article.id!r} is already in the index")
                    seen.add(article.id)
                    articles.append(payload[0])
                    texts.append(payload[1])

                scan = scan_articles(
                    path,
                    accept,
                    prepare=_article_and_text,
                    fields=fields,
                    on_error=on_error.value,
                    rejects=reject_writer,
                    display_name=input if input != "-" else "<stdin>",
                    pool=pool,
                    started=reading,
                )
                progress("indexing", 0, len(articles))
                rows = store.add(articles, texts=texts)
                columns = {
                    "dup_group": [r["dup_group"] for r in rows],
                    "is_canonical": [r["is_canonical"] for r in rows],
                    "story": [r["story"] for r in rows],
                }
                written = write_annotated(scan, output, columns, pool)
                store.commit()  # after the output is in place: a failed write leaves the index as it was
                stats = store.stats()
        tally.check(scan, written)
    if not quiet:
        new_groups = sum(1 for r in rows if r["is_canonical"])
        typer.echo(
            f"dedup: {len(rows):,} articles added ({new_groups:,} canonical); index holds "
            f"{stats['articles']:,} articles, {stats['dup_groups']:,} dup groups, {stats['stories']:,} stories, "
            f"{stats['bytes_per_article'] or 0:,.0f} bytes/article ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


_READ_AHEAD = 16  # input ranges (8 MB each) the workers may parse ahead of this process


def _tokenizing_workers(pool):
    """The ``pack`` step for stage 1's workers: tokenise in them, or only encode there and
    tokenise here.

    With a few workers, they parse, clean and encode, and are forked before the compiled core is
    loaded (about a second) so they start at once while this process loads it; this process then
    tokenises (~12 us per article). With four or more, this process would become the bottleneck,
    so the tokeniser is loaded first and the workers, forked after, inherit it and tokenise too.
    """
    from dedup.runner import pool_size

    if pool_size(pool) < 4:
        from dedup.normalize import encode_texts

        return encode_texts  # numpy only: the texts come back as one buffer per range
    from dedup.neardup import tokenize_texts

    _load_compiled_core()  # before the workers fork
    return tokenize_texts


def _load_compiled_core() -> None:
    """Import stage 1's compiled core and load its tokeniser now, with SciPy hidden from numba.

    numba imports SciPy (when installed) as it starts, for a version check, and SciPy's linear
    algebra when it loads its first compiled function, to find BLAS for ``np.dot``/``np.linalg``
    inside compiled functions; dedup's kernels use neither, and it cost ~0.3 s of every stage-1
    run (measured: numba import + first kernel 1.2 -> 0.9 s), and ~0.3 s more of an ingest
    process. What of SciPy is not imported yet is hidden while numba starts (numba treats it as
    not installed) and visible again afterwards.
    """
    hidden = [name for name in ("scipy", "scipy.linalg") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import scipy..." raises ImportError
    try:
        from dedup.shingle import warm_tokenizer

        warm_tokenizer()
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _article_and_text(article, record):
    """Prepare step of ``ingest`` (in the workers): the article, for its story text, and the
    cleaned text the index shingles (:func:`dedup.normalize.article_text`), UTF-8 encoded: bytes
    unpickle faster than text and go into the tokeniser's buffer as they are."""
    from dedup.normalize import article_text

    return article, article_text(article.title, article.text).encode("utf-8", "surrogatepass")


def main() -> None:
    """The console script: run the command, then leave without the interpreter's teardown.

    Tearing down numba's compiled code and every loaded module takes ~0.3 s after the work is done
    (a tenth of a small run). Exit handlers (``atexit``, e.g. Ray's shutdown) still run and the
    standard streams are flushed; only when another thread is still alive does the normal exit
    happen (it would join that thread).
    """
    try:
        app()
        code = 0
    except SystemExit as stop:
        code = stop.code
    if not isinstance(code, int | None):  # sys.exit("message"): print it, status 1
        print(code, file=sys.stderr)
        code = 1
    code = code or 0
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
