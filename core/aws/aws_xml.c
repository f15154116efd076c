/*
 * core/aws/aws_xml.c - Query-protocol answers (XML, parsed with libxml2) to
 * JSON, and AWS error bodies of both protocols to aws_error.
 */
#define _GNU_SOURCE
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "aws_internal.h"

/* List element names of RDS and CloudWatch (the locationName of list
 * members in their service models): an element whose children all carry
 * one of these names is a list even when it has a single child. */
static const char *const list_members[] = {"AccountQuota",
					   "AttributeValue",
					   "AvailabilityZone",
					   "AvailableProcessorFeature",
					   "Certificate",
					   "CharacterSet",
					   "DBCluster",
					   "DBClusterBacktrack",
					   "DBClusterEndpointList",
					   "DBClusterMember",
					   "DBClusterOptionGroup",
					   "DBClusterParameterGroup",
					   "DBClusterRole",
					   "DBClusterSnapshot",
					   "DBClusterSnapshotAttribute",
					   "DBEngineVersion",
					   "DBInstance",
					   "DBInstanceAutomatedBackup",
					   "DBInstanceAutomatedBackupsReplication",
					   "DBInstanceRole",
					   "DBInstanceStatusInfo",
					   "DBParameterGroup",
					   "DBSecurityGroup",
					   "DBSecurityGroupName",
					   "DBSnapshot",
					   "DBSnapshotAttribute",
					   "DBSubnetGroup",
					   "DescribeDBLogFilesDetails",
					   "DomainMembership",
					   "DoubleRange",
					   "EC2SecurityGroup",
					   "Event",
					   "EventCategoriesMap",
					   "EventCategory",
					   "EventSubscription",
					   "ExportTask",
					   "Filter",
					   "GlobalClusterMember",
					   "IPRange",
					   "MinimumEngineVersionPerAllowedValue",
					   "Option",
					   "OptionConfiguration",
					   "OptionConflictName",
					   "OptionGroup",
					   "OptionGroupMembership",
					   "OptionGroupOption",
					   "OptionGroupOptionSetting",
					   "OptionName",
					   "OptionSetting",
					   "OptionVersion",
					   "OrderableDBInstanceOption",
					   "Parameter",
					   "PendingMaintenanceAction",
					   "ProcessorFeature",
					   "Range",
					   "ReadReplicaDBClusterIdentifier",
					   "ReadReplicaDBInstanceIdentifier",
					   "ReadReplicaIdentifier",
					   "RecurringCharge",
					   "ReservedDBInstance",
					   "ReservedDBInstancesOffering",
					   "ResourcePendingMaintenanceActions",
					   "SourceId",
					   "SourceRegion",
					   "Subnet",
					   "SubnetIdentifier",
					   "Tag",
					   "Timezone",
					   "UpgradeTarget",
					   "ValidStorageOptions",
					   "VpcSecurityGroupId",
					   "VpcSecurityGroupMembership",
					   "member",
					   "item",
					   NULL};

static int is_list_member(const char *name)
{
	for (int i = 0; list_members[i]; i++)
		if (strcmp(list_members[i], name) == 0)
			return 1;
	return 0;
}

static int has_element_children(xmlNode *n)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return 1;
	return 0;
}

/* is_list - an element is a list when all its element children share one
 * name and that name is a list element name, or there are several. */
static int is_list(xmlNode *n)
{
	const char *first = NULL;
	int count = 0;

	for (xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!first)
			first = (const char *)c->name;
		else if (strcmp(first, (const char *)c->name) != 0)
			return 0;
		count++;
	}
	return first && (count > 1 || is_list_member(first));
}

static json_t *node_json(xmlNode *n, int force_object)
{
	json_t *v;

	if (!has_element_children(n)) {
		xmlChar *text = xmlNodeGetContent(n);

		v = json_string(text ? (const char *)text : "");
		if (!v)
			v = json_string(""); /* not UTF-8: never happens with libxml2 */
		xmlFree(text);
		return v;
	}
	if (!force_object && is_list(n)) {
		v = json_array();
		for (xmlNode *c = n->children; c; c = c->next)
			if (c->type == XML_ELEMENT_NODE)
				json_array_append_new(v, node_json(c, 0));
		return v;
	}
	v = json_object();
	for (xmlNode *c = n->children; c; c = c->next) {
		json_t *old;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		old = json_object_get(v, (const char *)c->name);
		if (old) {
			/* A repeated name among other names: a flattened list. */
			if (!json_is_array(old)) {
				json_t *arr = json_array();

				json_array_append(arr, old);
				json_object_set_new(v, (const char *)c->name, arr);
				old = arr;
			}
			json_array_append_new(old, node_json(c, 0));
		} else {
			json_object_set_new(v, (const char *)c->name, node_json(c, 0));
		}
	}
	return v;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* parse - the body as an XML document (caller frees), or NULL. libxml2's
 * global state is set up once (xmlInitParser), before the first parse of
 * any thread, as libxml2 asks of threaded programs. */
static xmlDoc *parse(const char *body, size_t len)
{
	pthread_once(&xml_once, xml_init);
	if (!body || len == 0 || len > (size_t)0x7fffffff)
		return NULL;
	return xmlReadMemory(body, (int)len, "aws-response.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
				     XML_PARSE_NOWARNING);
}

static char *parse_error(void)
{
	const xmlError *xe = xmlGetLastError();
	char buf[256];

	snprintf(buf, sizeof(buf), "not XML: %s", xe && xe->message ? xe->message : "empty body");
	/* libxml2's messages end in a newline. */
	for (char *p = buf + strlen(buf); p > buf && (p[-1] == '\n' || p[-1] == ' ');)
		*--p = '\0';
	return strdup(buf);
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

json_t *aws_xml_doc_json(const char *body, size_t len, char **err)
{
	xmlDoc *doc = parse(body, len);
	json_t *v;

	if (!doc) {
		if (err)
			*err = parse_error();
		return NULL;
	}
	v = node_json(xmlDocGetRootElement(doc), 0);
	xmlFreeDoc(doc);
	return v;
}

json_t *aws_xml_to_json(const char *body, size_t len, const char *result, char **err)
{
	xmlDoc *doc = parse(body, len);
	xmlNode *root, *res;
	json_t *v;

	if (!doc) {
		if (err)
			*err = parse_error();
		return NULL;
	}
	root = xmlDocGetRootElement(doc);
	/* The answer to action X is <XResponse>; anything else (an XHTML page
	 * of a proxy, another action's answer) is not this call's result. */
	if (result && strlen(result) > 6 && strcmp(result + strlen(result) - 6, "Result") == 0) {
		size_t al = strlen(result) - 6;
		const char *rn = (const char *)root->name;

		if (strncmp(rn, result, al) != 0 || strcmp(rn + al, "Response") != 0) {
			if (err && asprintf(err, "XML whose root is <%.64s>, not <%.*sResponse>",
					    rn, (int)al, result) < 0)
				*err = NULL;
			xmlFreeDoc(doc);
			return NULL;
		}
	}
	res = result ? child(root, result) : root;
	if (!res)
		v = json_object();
	else if (!has_element_children(res))
		v = json_object(); /* <XResult/>: nothing in it */
	else
		v = node_json(res, 1); /* an XResult is a structure, never a list */
	xmlFreeDoc(doc);
	return v;
}

void aws_error_clear(aws_error *e)
{
	free(e->code);
	free(e->message);
	free(e->type);
	free(e->request_id);
	memset(e, 0, sizeof(*e));
}

static char *text_of(xmlNode *n)
{
	xmlChar *t;
	char *s;

	if (!n)
		return NULL;
	t = xmlNodeGetContent(n);
	s = t ? strdup((const char *)t) : NULL;
	xmlFree(t);
	return s;
}

int aws_xml_error(const char *body, size_t len, aws_error *e)
{
	xmlDoc *doc = parse(body, len);
	xmlNode *root, *err = NULL, *rid = NULL;

	memset(e, 0, sizeof(*e));
	if (!doc)
		return 0;
	root = xmlDocGetRootElement(doc);
	if (strcmp((const char *)root->name, "ErrorResponse") == 0) {
		/* <ErrorResponse><Error> (Query) or <ErrorResponse><Errors><Error>
		 * (what some services and moto send with a 403) */
		err = child(root, "Error");
		if (!err)
			err = child(child(root, "Errors"), "Error");
		rid = child(root, "RequestId");
		if (!rid)
			rid = child(root, "RequestID");
	} else if (strcmp((const char *)root->name, "Response") == 0) {
		err = child(child(root, "Errors"), "Error");
		rid = child(root, "RequestID");
		if (!rid)
			rid = child(root, "RequestId");
	} else if (strcmp((const char *)root->name, "Error") == 0) {
		err = root;
		rid = child(root, "RequestId");
	}
	if (err && child(err, "Code")) {
		e->code = text_of(child(err, "Code"));
		e->message = text_of(child(err, "Message"));
		e->type = text_of(child(err, "Type"));
		e->request_id = text_of(rid);
	}
	xmlFreeDoc(doc);
	if (e->code && *e->code)
		return 1;
	aws_error_clear(e);
	return 0;
}

int aws_json_error(const char *body, size_t len, const char *errortype_header, aws_error *e)
{
	json_t *v = NULL;
	const char *type = NULL, *msg = NULL, *hash;

	memset(e, 0, sizeof(*e));
	if (body && len)
		v = json_loadb(body, len, 0, NULL);
	if (errortype_header && *errortype_header)
		type = errortype_header;
	else if (json_is_object(v))
		type = json_string_value(json_object_get(v, "__type"));
	if (json_is_object(v)) {
		msg = json_string_value(json_object_get(v, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(v, "Message"));
	}
	if (type && *type) {
		/* "aws.protocoltests#FooError:http://..." -> "FooError" */
		hash = strrchr(type, '#');
		e->code = strdup(hash ? hash + 1 : type);
		if (e->code) {
			char *colon = strchr(e->code, ':');

			if (colon)
				*colon = '\0';
		}
		e->message = msg ? strdup(msg) : NULL;
	}
	json_decref(v);
	return e->code != NULL;
}
