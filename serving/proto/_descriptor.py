"""Serialized ``FileDescriptorSet`` of ``inference.proto``: generated, do not edit.

Regenerate with ``python -m serving.proto.generate`` (needs ``grpcio-tools``).
"""

__all__ = ["SERIALIZED"]

SERIALIZED = (
    b'\n\xc6d\n\x0finference.proto\x12\tinference"\x13\n\x11ServerLiveReq'
    b'uest"(\n\x12ServerLiveResponse\x12\x12\n\x04live\x18\x01 \x01(\x08R\x04live"\x14'
    b'\n\x12ServerReadyRequest"+\n\x13ServerReadyResponse\x12\x14\n\x05r'
    b'eady\x18\x01 \x01(\x08R\x05ready"A\n\x11ModelReadyRequest\x12\x12\n\x04name\x18\x01'
    b' \x01(\tR\x04name\x12\x18\n\x07version\x18\x02 \x01(\tR\x07version"*\n\x12ModelRea'
    b'dyResponse\x12\x14\n\x05ready\x18\x01 \x01(\x08R\x05ready"\x17\n\x15ServerMetada'
    b'taRequest"f\n\x16ServerMetadataResponse\x12\x12\n\x04name\x18\x01 \x01('
    b"\tR\x04name\x12\x18\n\x07version\x18\x02 \x01(\tR\x07version\x12\x1e\n\nextensions\x18"
    b'\x03 \x03(\tR\nextensions"D\n\x14ModelMetadataRequest\x12\x12\n\x04nam'
    b'e\x18\x01 \x01(\tR\x04name\x12\x18\n\x07version\x18\x02 \x01(\tR\x07version"\xcf\x02\n\x15Mode'
    b"lMetadataResponse\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1a\n\x08version"
    b"s\x18\x02 \x03(\tR\x08versions\x12\x1a\n\x08platform\x18\x03 \x01(\tR\x08platform\x12G\n"
    b"\x06inputs\x18\x04 \x03(\x0b2/.inference.ModelMetadataResponse."
    b"TensorMetadataR\x06inputs\x12I\n\x07outputs\x18\x05 \x03(\x0b2/.infere"
    b"nce.ModelMetadataResponse.TensorMetadataR\x07output"
    b"s\x1aV\n\x0eTensorMetadata\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1a\n\x08datat"
    b'ype\x18\x02 \x01(\tR\x08datatype\x12\x14\n\x05shape\x18\x03 \x03(\x03R\x05shape"\xd7\x01\n\x0eIn'
    b"ferParameter\x12\x1f\n\nbool_param\x18\x01 \x01(\x08H\x00R\tboolParam\x12!\n"
    b"\x0bint64_param\x18\x02 \x01(\x03H\x00R\nint64Param\x12#\n\x0cstring_param"
    b"\x18\x03 \x01(\tH\x00R\x0bstringParam\x12#\n\x0cdouble_param\x18\x04 \x01(\x01H\x00R\x0bd"
    b"oubleParam\x12#\n\x0cuint64_param\x18\x05 \x01(\x04H\x00R\x0buint64ParamB"
    b'\x12\n\x10parameter_choice"\xc3\x02\n\x13InferTensorContents\x12#\n\rb'
    b"ool_contents\x18\x01 \x03(\x08R\x0cboolContents\x12!\n\x0cint_contents"
    b"\x18\x02 \x03(\x05R\x0bintContents\x12%\n\x0eint64_contents\x18\x03 \x03(\x03R\rint"
    b"64Contents\x12#\n\ruint_contents\x18\x04 \x03(\rR\x0cuintContents\x12"
    b"'\n\x0fuint64_contents\x18\x05 \x03(\x04R\x0euint64Contents\x12#\n\rfp32"
    b"_contents\x18\x06 \x03(\x02R\x0cfp32Contents\x12#\n\rfp64_contents\x18\x07"
    b" \x03(\x01R\x0cfp64Contents\x12%\n\x0ebytes_contents\x18\x08 \x03(\x0cR\rbyte"
    b'sContents"\x9d\x08\n\x11ModelInferRequest\x12\x1d\n\nmodel_name\x18\x01 '
    b"\x01(\tR\tmodelName\x12#\n\rmodel_version\x18\x02 \x01(\tR\x0cmodelVers"
    b"ion\x12\x0e\n\x02id\x18\x03 \x01(\tR\x02id\x12L\n\nparameters\x18\x04 \x03(\x0b2,.infere"
    b"nce.ModelInferRequest.ParametersEntryR\nparameter"
    b"s\x12E\n\x06inputs\x18\x05 \x03(\x0b2-.inference.ModelInferRequest."
    b"InferInputTensorR\x06inputs\x12Q\n\x07outputs\x18\x06 \x03(\x0b27.infe"
    b"rence.ModelInferRequest.InferRequestedOutputTens"
    b"orR\x07outputs\x12,\n\x12raw_input_contents\x18\x07 \x03(\x0cR\x10rawInpu"
    b"tContents\x1a\xcd\x02\n\x10InferInputTensor\x12\x12\n\x04name\x18\x01 \x01(\tR\x04na"
    b"me\x12\x1a\n\x08datatype\x18\x02 \x01(\tR\x08datatype\x12\x14\n\x05shape\x18\x03 \x03(\x03R\x05s"
    b"hape\x12]\n\nparameters\x18\x04 \x03(\x0b2=.inference.ModelInferR"
    b"equest.InferInputTensor.ParametersEntryR\nparamet"
    b"ers\x12:\n\x08contents\x18\x05 \x01(\x0b2\x1e.inference.InferTensorCon"
    b"tentsR\x08contents\x1aX\n\x0fParametersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR"
    b"\x03key\x12/\n\x05value\x18\x02 \x01(\x0b2\x19.inference.InferParameterR\x05"
    b"value:\x028\x01\x1a\xf3\x01\n\x1aInferRequestedOutputTensor\x12\x12\n\x04name"
    b"\x18\x01 \x01(\tR\x04name\x12g\n\nparameters\x18\x02 \x03(\x0b2G.inference.Mod"
    b"elInferRequest.InferRequestedOutputTensor.Parame"
    b"tersEntryR\nparameters\x1aX\n\x0fParametersEntry\x12\x10\n\x03key\x18"
    b"\x01 \x01(\tR\x03key\x12/\n\x05value\x18\x02 \x01(\x0b2\x19.inference.InferParam"
    b"eterR\x05value:\x028\x01\x1aX\n\x0fParametersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR"
    b"\x03key\x12/\n\x05value\x18\x02 \x01(\x0b2\x19.inference.InferParameterR\x05"
    b'value:\x028\x01"\xdf\x05\n\x12ModelInferResponse\x12\x1d\n\nmodel_name\x18\x01'
    b" \x01(\tR\tmodelName\x12#\n\rmodel_version\x18\x02 \x01(\tR\x0cmodelVer"
    b"sion\x12\x0e\n\x02id\x18\x03 \x01(\tR\x02id\x12M\n\nparameters\x18\x04 \x03(\x0b2-.infer"
    b"ence.ModelInferResponse.ParametersEntryR\nparamet"
    b"ers\x12I\n\x07outputs\x18\x05 \x03(\x0b2/.inference.ModelInferRespo"
    b"nse.InferOutputTensorR\x07outputs\x12.\n\x13raw_output_con"
    b"tents\x18\x06 \x03(\x0cR\x11rawOutputContents\x1a\xd0\x02\n\x11InferOutputTe"
    b"nsor\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1a\n\x08datatype\x18\x02 \x01(\tR\x08data"
    b"type\x12\x14\n\x05shape\x18\x03 \x03(\x03R\x05shape\x12_\n\nparameters\x18\x04 \x03(\x0b2?"
    b".inference.ModelInferResponse.InferOutputTensor."
    b"ParametersEntryR\nparameters\x12:\n\x08contents\x18\x05 \x01(\x0b2\x1e."
    b"inference.InferTensorContentsR\x08contents\x1aX\n\x0fParam"
    b"etersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12/\n\x05value\x18\x02 \x01(\x0b2\x19.in"
    b"ference.InferParameterR\x05value:\x028\x01\x1aX\n\x0fParametersE"
    b"ntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12/\n\x05value\x18\x02 \x01(\x0b2\x19.inferenc"
    b'e.InferParameterR\x05value:\x028\x01"\x85\x01\n\x18ModelStreamInfer'
    b"Response\x12#\n\rerror_message\x18\x01 \x01(\tR\x0cerrorMessage\x12D\n"
    b"\x0einfer_response\x18\x02 \x01(\x0b2\x1d.inference.ModelInferResp"
    b'onseR\rinferResponse"\xcd\x01\n\x12ModelInstanceGroup\x12\x12\n\x04na'
    b"me\x18\x01 \x01(\tR\x04name\x12\x14\n\x05count\x18\x02 \x01(\x05R\x05count\x12\x12\n\x04gpus\x18\x03 \x03"
    b'(\x05R\x04gpus\x126\n\x04kind\x18\x04 \x01(\x0e2".inference.ModelInstance'
    b'Group.KindR\x04kind"A\n\x04Kind\x12\r\n\tKIND_AUTO\x10\x00\x12\x0c\n\x08KIND_'
    b'GPU\x10\x01\x12\x0c\n\x08KIND_CPU\x10\x02\x12\x0e\n\nKIND_MODEL\x10\x03"f\n\nModelInpu'
    b"t\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x120\n\tdata_type\x18\x02 \x01(\x0e2\x13.infer"
    b'ence.DataTypeR\x08dataType\x12\x12\n\x04dims\x18\x04 \x03(\x03R\x04dims"g\n\x0bM'
    b"odelOutput\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x120\n\tdata_type\x18\x02 \x01("
    b"\x0e2\x13.inference.DataTypeR\x08dataType\x12\x12\n\x04dims\x18\x03 \x03(\x03R\x04"
    b'dims"\xbe\x02\n\x12ModelVersionPolicy\x12>\n\x06latest\x18\x01 \x01(\x0b2$.in'
    b"ference.ModelVersionPolicy.LatestH\x00R\x06latest\x125\n\x03a"
    b"ll\x18\x02 \x01(\x0b2!.inference.ModelVersionPolicy.AllH\x00R\x03a"
    b"ll\x12D\n\x08specific\x18\x03 \x01(\x0b2&.inference.ModelVersionPol"
    b"icy.SpecificH\x00R\x08specific\x1a+\n\x06Latest\x12!\n\x0cnum_versio"
    b"ns\x18\x01 \x01(\rR\x0bnumVersions\x1a\x05\n\x03All\x1a&\n\x08Specific\x12\x1a\n\x08vers"
    b'ions\x18\x01 \x03(\x03R\x08versionsB\x0f\n\rpolicy_choice"\x83\x05\n\x17ModelO'
    b"ptimizationPolicy\x12o\n\x16execution_accelerators\x18\x04 \x01("
    b"\x0b28.inference.ModelOptimizationPolicy.ExecutionA"
    b"cceleratorsR\x15executionAccelerators\x1a\xf6\x03\n\x15Execution"
    b"Accelerators\x12\x80\x01\n\x19gpu_execution_accelerator\x18\x01 \x03(\x0b"
    b"2D.inference.ModelOptimizationPolicy.ExecutionAc"
    b"celerators.AcceleratorR\x17gpuExecutionAccelerator\x12"
    b"\x80\x01\n\x19cpu_execution_accelerator\x18\x02 \x03(\x0b2D.inference."
    b"ModelOptimizationPolicy.ExecutionAccelerators.Ac"
    b"celeratorR\x17cpuExecutionAccelerator\x1a\xd6\x01\n\x0bAccelerat"
    b"or\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12t\n\nparameters\x18\x02 \x03(\x0b2T.inf"
    b"erence.ModelOptimizationPolicy.ExecutionAccelera"
    b"tors.Accelerator.ParametersEntryR\nparameters\x1a=\n\x0f"
    b"ParametersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12\x14\n\x05value\x18\x02 \x01(\t"
    b'R\x05value:\x028\x01"8\n\x10ModelQueuePolicy\x12$\n\x0emax_queue_siz'
    b'e\x18\x04 \x01(\rR\x0cmaxQueueSize"\xd8\x01\n\x14ModelDynamicBatching\x120'
    b"\n\x14preferred_batch_size\x18\x01 \x03(\x05R\x12preferredBatchSize"
    b"\x12?\n\x1cmax_queue_delay_microseconds\x18\x02 \x01(\x04R\x19maxQueue"
    b"DelayMicroseconds\x12M\n\x14default_queue_policy\x18\x06 \x01(\x0b2"
    b"\x1b.inference.ModelQueuePolicyR\x12defaultQueuePolicy"
    b'"\xc7\x04\n\x0bModelConfig\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1a\n\x08platform'
    b"\x18\x02 \x01(\tR\x08platform\x12D\n\x0eversion_policy\x18\x03 \x01(\x0b2\x1d.infer"
    b"ence.ModelVersionPolicyR\rversionPolicy\x12$\n\x0emax_ba"
    b"tch_size\x18\x04 \x01(\x05R\x0cmaxBatchSize\x12+\n\x05input\x18\x05 \x03(\x0b2\x15.in"
    b"ference.ModelInputR\x05input\x12.\n\x06output\x18\x06 \x03(\x0b2\x16.infe"
    b"rence.ModelOutputR\x06output\x12D\n\x0einstance_group\x18\x07 \x03("
    b"\x0b2\x1d.inference.ModelInstanceGroupR\rinstanceGroup\x12"
    b"4\n\x16default_model_filename\x18\x08 \x01(\tR\x14defaultModelFil"
    b'ename\x12F\n\x0coptimization\x18\x0c \x01(\x0b2".inference.ModelOpt'
    b"imizationPolicyR\x0coptimization\x12\x18\n\x07backend\x18\x11 \x01(\tR\x07"
    b"backend\x12L\n\x10dynamic_batching\x18\x0b \x01(\x0b2\x1f.inference.Mo"
    b"delDynamicBatchingH\x00R\x0fdynamicBatchingB\x13\n\x11schedul"
    b'ing_choice"B\n\x12ModelConfigRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04'
    b'name\x12\x18\n\x07version\x18\x02 \x01(\tR\x07version"E\n\x13ModelConfigRes'
    b"ponse\x12.\n\x06config\x18\x01 \x01(\x0b2\x16.inference.ModelConfigR\x06c"
    b'onfig"9\n\x11StatisticDuration\x12\x14\n\x05count\x18\x01 \x01(\x04R\x05count'
    b'\x12\x0e\n\x02ns\x18\x02 \x01(\x04R\x02ns"\xf2\x03\n\x0fInferStatistics\x126\n\x07success\x18'
    b"\x01 \x01(\x0b2\x1c.inference.StatisticDurationR\x07success\x120\n\x04"
    b"fail\x18\x02 \x01(\x0b2\x1c.inference.StatisticDurationR\x04fail\x122"
    b"\n\x05queue\x18\x03 \x01(\x0b2\x1c.inference.StatisticDurationR\x05que"
    b"ue\x12A\n\rcompute_input\x18\x04 \x01(\x0b2\x1c.inference.StatisticD"
    b"urationR\x0ccomputeInput\x12A\n\rcompute_infer\x18\x05 \x01(\x0b2\x1c.i"
    b"nference.StatisticDurationR\x0ccomputeInfer\x12C\n\x0ecomp"
    b"ute_output\x18\x06 \x01(\x0b2\x1c.inference.StatisticDurationR\r"
    b"computeOutput\x129\n\tcache_hit\x18\x07 \x01(\x0b2\x1c.inference.Sta"
    b"tisticDurationR\x08cacheHit\x12;\n\ncache_miss\x18\x08 \x01(\x0b2\x1c.i"
    b'nference.StatisticDurationR\tcacheMiss"\x80\x02\n\x14InferB'
    b"atchStatistics\x12\x1d\n\nbatch_size\x18\x01 \x01(\x04R\tbatchSize\x12A\n"
    b"\rcompute_input\x18\x02 \x01(\x0b2\x1c.inference.StatisticDurati"
    b"onR\x0ccomputeInput\x12A\n\rcompute_infer\x18\x03 \x01(\x0b2\x1c.infere"
    b"nce.StatisticDurationR\x0ccomputeInfer\x12C\n\x0ecompute_o"
    b"utput\x18\x04 \x01(\x0b2\x1c.inference.StatisticDurationR\rcompu"
    b'teOutput"\xbf\x02\n\x0fModelStatistics\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name'
    b"\x12\x18\n\x07version\x18\x02 \x01(\tR\x07version\x12%\n\x0elast_inference\x18\x03 \x01"
    b"(\x04R\rlastInference\x12'\n\x0finference_count\x18\x04 \x01(\x04R\x0einfe"
    b"renceCount\x12'\n\x0fexecution_count\x18\x05 \x01(\x04R\x0eexecutionCo"
    b"unt\x12C\n\x0finference_stats\x18\x06 \x01(\x0b2\x1a.inference.InferSt"
    b"atisticsR\x0einferenceStats\x12@\n\x0bbatch_stats\x18\x07 \x03(\x0b2\x1f."
    b'inference.InferBatchStatisticsR\nbatchStats"F\n\x16Mo'
    b"delStatisticsRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x18\n\x07vers"
    b'ion\x18\x02 \x01(\tR\x07version"V\n\x17ModelStatisticsResponse\x12;\n'
    b"\x0bmodel_stats\x18\x01 \x03(\x0b2\x1a.inference.ModelStatisticsR\n"
    b'modelStats"\xba\x01\n\x18ModelRepositoryParameter\x12\x1f\n\nbool_'
    b"param\x18\x01 \x01(\x08H\x00R\tboolParam\x12!\n\x0bint64_param\x18\x02 \x01(\x03H\x00R"
    b"\nint64Param\x12#\n\x0cstring_param\x18\x03 \x01(\tH\x00R\x0bstringParam"
    b"\x12!\n\x0bbytes_param\x18\x04 \x01(\x0cH\x00R\nbytesParamB\x12\n\x10parameter"
    b"_choice\"W\n\x16RepositoryIndexRequest\x12'\n\x0frepository_"
    b"name\x18\x01 \x01(\tR\x0erepositoryName\x12\x14\n\x05ready\x18\x02 \x01(\x08R\x05ready"
    b'"\xca\x01\n\x17RepositoryIndexResponse\x12E\n\x06models\x18\x01 \x03(\x0b2-.i'
    b"nference.RepositoryIndexResponse.ModelIndexR\x06mod"
    b"els\x1ah\n\nModelIndex\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x18\n\x07version"
    b"\x18\x02 \x01(\tR\x07version\x12\x14\n\x05state\x18\x03 \x01(\tR\x05state\x12\x16\n\x06reason\x18"
    b"\x04 \x01(\tR\x06reason\"\x9f\x02\n\x1aRepositoryModelLoadRequest\x12'\n\x0f"
    b"repository_name\x18\x01 \x01(\tR\x0erepositoryName\x12\x1d\n\nmodel_n"
    b"ame\x18\x02 \x01(\tR\tmodelName\x12U\n\nparameters\x18\x03 \x03(\x0b25.infer"
    b"ence.RepositoryModelLoadRequest.ParametersEntryR"
    b"\nparameters\x1ab\n\x0fParametersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key"
    b"\x129\n\x05value\x18\x02 \x01(\x0b2#.inference.ModelRepositoryParam"
    b'eterR\x05value:\x028\x01"\x1d\n\x1bRepositoryModelLoadResponse"\xa3'
    b"\x02\n\x1cRepositoryModelUnloadRequest\x12'\n\x0frepository_na"
    b"me\x18\x01 \x01(\tR\x0erepositoryName\x12\x1d\n\nmodel_name\x18\x02 \x01(\tR\tmo"
    b"delName\x12W\n\nparameters\x18\x03 \x03(\x0b27.inference.Reposito"
    b"ryModelUnloadRequest.ParametersEntryR\nparameters"
    b"\x1ab\n\x0fParametersEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x129\n\x05value\x18\x02"
    b" \x01(\x0b2#.inference.ModelRepositoryParameterR\x05value"
    b':\x028\x01"\x1f\n\x1dRepositoryModelUnloadResponse"5\n\x1fSystemS'
    b'haredMemoryStatusRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name"\xd7\x02\n'
    b" SystemSharedMemoryStatusResponse\x12R\n\x07regions\x18\x01 \x03"
    b"(\x0b28.inference.SystemSharedMemoryStatusResponse."
    b"RegionsEntryR\x07regions\x1ai\n\x0cRegionStatus\x12\x12\n\x04name\x18\x01 "
    b"\x01(\tR\x04name\x12\x10\n\x03key\x18\x02 \x01(\tR\x03key\x12\x16\n\x06offset\x18\x03 \x01(\x04R\x06off"
    b"set\x12\x1b\n\tbyte_size\x18\x04 \x01(\x04R\x08byteSize\x1at\n\x0cRegionsEntry"
    b"\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12N\n\x05value\x18\x02 \x01(\x0b28.inference.Sy"
    b"stemSharedMemoryStatusResponse.RegionStatusR\x05val"
    b'ue:\x028\x01"~\n!SystemSharedMemoryRegisterRequest\x12\x12\n\x04n'
    b"ame\x18\x01 \x01(\tR\x04name\x12\x10\n\x03key\x18\x02 \x01(\tR\x03key\x12\x16\n\x06offset\x18\x03 \x01("
    b'\x04R\x06offset\x12\x1b\n\tbyte_size\x18\x04 \x01(\x04R\x08byteSize"$\n"System'
    b'SharedMemoryRegisterResponse"9\n#SystemSharedMemo'
    b'ryUnregisterRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name"&\n$Syste'
    b'mSharedMemoryUnregisterResponse"3\n\x1dCudaSharedMem'
    b'oryStatusRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name"\xc4\x02\n\x1eCudaSha'
    b"redMemoryStatusResponse\x12P\n\x07regions\x18\x01 \x03(\x0b26.infer"
    b"ence.CudaSharedMemoryStatusResponse.RegionsEntry"
    b"R\x07regions\x1a\\\n\x0cRegionStatus\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1b\n"
    b"\tdevice_id\x18\x02 \x01(\x04R\x08deviceId\x12\x1b\n\tbyte_size\x18\x03 \x01(\x04R\x08b"
    b"yteSize\x1ar\n\x0cRegionsEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12L\n\x05val"
    b"ue\x18\x02 \x01(\x0b26.inference.CudaSharedMemoryStatusRespo"
    b'nse.RegionStatusR\x05value:\x028\x01"\x8e\x01\n\x1fCudaSharedMemory'
    b"RegisterRequest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name\x12\x1d\n\nraw_handl"
    b"e\x18\x02 \x01(\x0cR\trawHandle\x12\x1b\n\tdevice_id\x18\x03 \x01(\x03R\x08deviceId\x12"
    b'\x1b\n\tbyte_size\x18\x04 \x01(\x04R\x08byteSize""\n CudaSharedMemory'
    b'RegisterResponse"7\n!CudaSharedMemoryUnregisterRe'
    b'quest\x12\x12\n\x04name\x18\x01 \x01(\tR\x04name"$\n"CudaSharedMemoryUnr'
    b'egisterResponse"\x8e\x02\n\x13TraceSettingRequest\x12H\n\x08setti'
    b"ngs\x18\x01 \x03(\x0b2,.inference.TraceSettingRequest.Settin"
    b"gsEntryR\x08settings\x12\x1d\n\nmodel_name\x18\x02 \x01(\tR\tmodelName"
    b"\x1a$\n\x0cSettingValue\x12\x14\n\x05value\x18\x01 \x03(\tR\x05value\x1ah\n\rSettin"
    b"gsEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12A\n\x05value\x18\x02 \x01(\x0b2+.infer"
    b"ence.TraceSettingRequest.SettingValueR\x05value:\x028\x01"
    b'"\xf2\x01\n\x14TraceSettingResponse\x12I\n\x08settings\x18\x01 \x03(\x0b2-.in'
    b"ference.TraceSettingResponse.SettingsEntryR\x08sett"
    b"ings\x1a$\n\x0cSettingValue\x12\x14\n\x05value\x18\x01 \x03(\tR\x05value\x1ai\n\rSe"
    b"ttingsEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12B\n\x05value\x18\x02 \x01(\x0b2,.i"
    b"nference.TraceSettingResponse.SettingValueR\x05valu"
    b'e:\x028\x01"\xd6\x02\n\x12LogSettingsRequest\x12G\n\x08settings\x18\x01 \x03(\x0b2+'
    b".inference.LogSettingsRequest.SettingsEntryR\x08set"
    b"tings\x1a\x8d\x01\n\x0cSettingValue\x12\x1f\n\nbool_param\x18\x01 \x01(\x08H\x00R\tbo"
    b"olParam\x12#\n\x0cuint32_param\x18\x02 \x01(\rH\x00R\x0buint32Param\x12#\n\x0c"
    b"string_param\x18\x03 \x01(\tH\x00R\x0bstringParamB\x12\n\x10parameter_c"
    b"hoice\x1ag\n\rSettingsEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03key\x12@\n\x05valu"
    b"e\x18\x02 \x01(\x0b2*.inference.LogSettingsRequest.SettingVa"
    b'lueR\x05value:\x028\x01"\xd9\x02\n\x13LogSettingsResponse\x12H\n\x08settin'
    b"gs\x18\x01 \x03(\x0b2,.inference.LogSettingsResponse.Setting"
    b"sEntryR\x08settings\x1a\x8d\x01\n\x0cSettingValue\x12\x1f\n\nbool_param\x18"
    b"\x01 \x01(\x08H\x00R\tboolParam\x12#\n\x0cuint32_param\x18\x02 \x01(\rH\x00R\x0buint"
    b"32Param\x12#\n\x0cstring_param\x18\x03 \x01(\tH\x00R\x0bstringParamB\x12\n\x10"
    b"parameter_choice\x1ah\n\rSettingsEntry\x12\x10\n\x03key\x18\x01 \x01(\tR\x03"
    b"key\x12A\n\x05value\x18\x02 \x01(\x0b2+.inference.LogSettingsRespon"
    b"se.SettingValueR\x05value:\x028\x01*\xfa\x01\n\x08DataType\x12\x10\n\x0cTYPE_"
    b"INVALID\x10\x00\x12\r\n\tTYPE_BOOL\x10\x01\x12\x0e\n\nTYPE_UINT8\x10\x02\x12\x0f\n\x0bTYPE"
    b"_UINT16\x10\x03\x12\x0f\n\x0bTYPE_UINT32\x10\x04\x12\x0f\n\x0bTYPE_UINT64\x10\x05\x12\r\n\tT"
    b"YPE_INT8\x10\x06\x12\x0e\n\nTYPE_INT16\x10\x07\x12\x0e\n\nTYPE_INT32\x10\x08\x12\x0e\n\nTY"
    b"PE_INT64\x10\t\x12\r\n\tTYPE_FP16\x10\n\x12\r\n\tTYPE_FP32\x10\x0b\x12\r\n\tTYPE"
    b"_FP64\x10\x0c\x12\x0f\n\x0bTYPE_STRING\x10\r\x12\r\n\tTYPE_BF16\x10\x0e2\xb7\x0f\n\x14GRPC"
    b"InferenceService\x12K\n\nServerLive\x12\x1c.inference.Serve"
    b'rLiveRequest\x1a\x1d.inference.ServerLiveResponse"\x00\x12N\n'
    b"\x0bServerReady\x12\x1d.inference.ServerReadyRequest\x1a\x1e.in"
    b'ference.ServerReadyResponse"\x00\x12K\n\nModelReady\x12\x1c.in'
    b"ference.ModelReadyRequest\x1a\x1d.inference.ModelReady"
    b'Response"\x00\x12W\n\x0eServerMetadata\x12 .inference.ServerM'
    b"etadataRequest\x1a!.inference.ServerMetadataRespons"
    b'e"\x00\x12T\n\rModelMetadata\x12\x1f.inference.ModelMetadataRe'
    b'quest\x1a .inference.ModelMetadataResponse"\x00\x12K\n\nMod'
    b"elInfer\x12\x1c.inference.ModelInferRequest\x1a\x1d.inferenc"
    b'e.ModelInferResponse"\x00\x12[\n\x10ModelStreamInfer\x12\x1c.inf'
    b"erence.ModelInferRequest\x1a#.inference.ModelStream"
    b'InferResponse"\x00(\x010\x01\x12N\n\x0bModelConfig\x12\x1d.inference.M'
    b"odelConfigRequest\x1a\x1e.inference.ModelConfigRespons"
    b'e"\x00\x12Z\n\x0fModelStatistics\x12!.inference.ModelStatisti'
    b'csRequest\x1a".inference.ModelStatisticsResponse"\x00\x12'
    b"Z\n\x0fRepositoryIndex\x12!.inference.RepositoryIndexRe"
    b'quest\x1a".inference.RepositoryIndexResponse"\x00\x12f\n\x13R'
    b"epositoryModelLoad\x12%.inference.RepositoryModelLo"
    b"adRequest\x1a&.inference.RepositoryModelLoadRespons"
    b"e\"\x00\x12l\n\x15RepositoryModelUnload\x12'.inference.Reposit"
    b"oryModelUnloadRequest\x1a(.inference.RepositoryMode"
    b'lUnloadResponse"\x00\x12u\n\x18SystemSharedMemoryStatus\x12*.'
    b"inference.SystemSharedMemoryStatusRequest\x1a+.infe"
    b'rence.SystemSharedMemoryStatusResponse"\x00\x12{\n\x1aSyst'
    b"emSharedMemoryRegister\x12,.inference.SystemSharedM"
    b"emoryRegisterRequest\x1a-.inference.SystemSharedMem"
    b'oryRegisterResponse"\x00\x12\x81\x01\n\x1cSystemSharedMemoryUnre'
    b"gister\x12..inference.SystemSharedMemoryUnregisterR"
    b"equest\x1a/.inference.SystemSharedMemoryUnregisterR"
    b'esponse"\x00\x12o\n\x16CudaSharedMemoryStatus\x12(.inference.'
    b"CudaSharedMemoryStatusRequest\x1a).inference.CudaSh"
    b'aredMemoryStatusResponse"\x00\x12u\n\x18CudaSharedMemoryRe'
    b"gister\x12*.inference.CudaSharedMemoryRegisterReque"
    b'st\x1a+.inference.CudaSharedMemoryRegisterResponse"'
    b"\x00\x12{\n\x1aCudaSharedMemoryUnregister\x12,.inference.Cuda"
    b"SharedMemoryUnregisterRequest\x1a-.inference.CudaSh"
    b'aredMemoryUnregisterResponse"\x00\x12Q\n\x0cTraceSetting\x12\x1e'
    b".inference.TraceSettingRequest\x1a\x1f.inference.Trace"
    b'SettingResponse"\x00\x12N\n\x0bLogSettings\x12\x1d.inference.Log'
    b'SettingsRequest\x1a\x1e.inference.LogSettingsResponse"'
    b"\x00b\x06proto3"
)
