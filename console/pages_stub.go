package console

func (s *Server) adminPages() {}
