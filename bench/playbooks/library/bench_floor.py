# The bench's floor: the least a pool task can do (import libvirt and lxml, look the pool up, exit).
from ansible.module_utils.basic import AnsibleModule
import libvirt
from lxml import etree


def main():
    module = AnsibleModule(argument_spec=dict(name=dict(type="str", required=True), uri=dict(type="str")))
    pool = libvirt.open(module.params["uri"]).storagePoolLookupByName(module.params["name"])
    module.exit_json(changed=False, type=etree.fromstring(pool.XMLDesc(0)).get("type"))


if __name__ == "__main__":
    main()
