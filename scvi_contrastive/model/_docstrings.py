"""Parameter texts shared by the getters of both models, in scvi-tools' ``docrep`` style."""

from docrep import DocstringProcessor

_param_adata = """\
adata
    Data registered like the model's (a MuData; for BICLUM also its AnnData form), e.g. the
    query of :meth:`load_query_data`; the model's own if ``None``."""
_param_indices = """\
indices
    Cells to use, as integer positions or a boolean mask over ``adata.obs`` (all if
    ``None``); the output follows their order."""
_param_batch_size = """\
batch_size
    Minibatch size for inference (scvi's default if ``None``)."""
_param_smooth_obsm = """\
smooth_obsm
    Modality name -> key of an ``.obsm`` entry holding that modality's cells in their own
    space (e.g. ``{"atac": "X_lsi"}``: the peaks' LSI, first component left out, stored in the
    ATAC modality's AnnData). Each of that modality's cells is then moved halfway to its 15
    nearest cells there (neighbours among the cells asked for;
    :func:`~scvi_contrastive.tools.neighbor_smoothing.smooth_along_neighbors`): structure that
    gene activity loses. ``None``: the embedding as learned."""
_param_transform_batch = """\
transform_batch
    Decode every cell as if it came from this batch category (its own batch if ``None``)."""

#: ``@getter_dsp.dedent`` fills ``%(param_adata)s`` and the others into a docstring.
getter_dsp = DocstringProcessor(
    param_adata=_param_adata,
    param_indices=_param_indices,
    param_batch_size=_param_batch_size,
    param_transform_batch=_param_transform_batch,
    param_smooth_obsm=_param_smooth_obsm,
)
