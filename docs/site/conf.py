# Sphinx configuration of the virtops.storage docs site (made with antsibull-docs sphinx-init, then made to build
# offline: no intersphinx inventories are fetched; the few labels of Ansible's own docs that antsibull-docs pages
# refer to are defined in ansible_references.rst, pointing at docs.ansible.com).

project = 'virtops.storage'
copyright = 'virtops.storage contributors'

title = 'virtops.storage: libvirt storage for Ansible'
html_short_title = 'virtops.storage'

extensions = ['sphinx_antsibull_ext']

pygments_style = 'ansible'

highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False

display_version = False

html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'

# a reference that does not resolve is an error (the build runs with -W)
nitpicky = True
