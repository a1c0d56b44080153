// TEMPORARY link shim for the librdkafka C API used by kafka_admin.cpp.
//
// CMake links the oncemq executable with pkg-config's `rdkafka++` only, whose Libs line is
// `-lrdkafka++`; the C functions live in librdkafka.so, which reaches the process only as a
// dependency of librdkafka++.so, and GNU ld refuses to bind to such indirect libraries ("DSO missing
// from command line"). Declaring the functions weak lets the link succeed, and the dynamic loader
// binds them at start-up from the librdkafka.so that librdkafka++.so always loads.
//
// Remove this file (and its #include) once CMakeLists.txt links the C library as well, e.g.
//   pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)
// Include after <librdkafka/rdkafka.h>, in one .cpp only.
#pragma once

#pragma weak rd_kafka_AdminOptions_destroy
#pragma weak rd_kafka_AdminOptions_new
#pragma weak rd_kafka_AdminOptions_set_operation_timeout
#pragma weak rd_kafka_AdminOptions_set_request_timeout
#pragma weak rd_kafka_ConfigEntry_is_default
#pragma weak rd_kafka_ConfigEntry_is_sensitive
#pragma weak rd_kafka_ConfigEntry_name
#pragma weak rd_kafka_ConfigEntry_source
#pragma weak rd_kafka_ConfigEntry_value
#pragma weak rd_kafka_ConfigResource_configs
#pragma weak rd_kafka_ConfigResource_destroy
#pragma weak rd_kafka_ConfigResource_error
#pragma weak rd_kafka_ConfigResource_error_string
#pragma weak rd_kafka_ConfigResource_new
#pragma weak rd_kafka_ConfigSource_name
#pragma weak rd_kafka_CreateTopics
#pragma weak rd_kafka_CreateTopics_result_topics
#pragma weak rd_kafka_DeleteTopic_destroy
#pragma weak rd_kafka_DeleteTopic_new
#pragma weak rd_kafka_DeleteTopics
#pragma weak rd_kafka_DeleteTopics_result_topics
#pragma weak rd_kafka_DescribeConfigs
#pragma weak rd_kafka_DescribeConfigs_result_resources
#pragma weak rd_kafka_NewTopic_destroy
#pragma weak rd_kafka_NewTopic_new
#pragma weak rd_kafka_NewTopic_set_config
#pragma weak rd_kafka_conf_destroy
#pragma weak rd_kafka_conf_new
#pragma weak rd_kafka_conf_set
#pragma weak rd_kafka_conf_set_log_cb
#pragma weak rd_kafka_conf_set_opaque
#pragma weak rd_kafka_destroy
#pragma weak rd_kafka_err2name
#pragma weak rd_kafka_err2str
#pragma weak rd_kafka_event_CreateTopics_result
#pragma weak rd_kafka_event_DeleteTopics_result
#pragma weak rd_kafka_event_DescribeConfigs_result
#pragma weak rd_kafka_event_destroy
#pragma weak rd_kafka_event_error
#pragma weak rd_kafka_event_error_string
#pragma weak rd_kafka_metadata
#pragma weak rd_kafka_metadata_destroy
#pragma weak rd_kafka_new
#pragma weak rd_kafka_opaque
#pragma weak rd_kafka_queue_destroy
#pragma weak rd_kafka_queue_new
#pragma weak rd_kafka_queue_poll
#pragma weak rd_kafka_topic_result_error
#pragma weak rd_kafka_topic_result_error_string
